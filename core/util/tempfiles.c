#define _GNU_SOURCE /* nftw flags */
#include "util/tempfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/str.h"

struct temp {
    char *path;
    bool is_dir;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct temp *temps;
static size_t n_temps, cap_temps;
static bool dying; /* a signal arrived: new temporaries go at once */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Called with the lock held: not lkb_fs_remove_tree, which forgets. */
static void remove_one(const struct temp *t)
{
    if (t->is_dir)
        nftw(t->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        unlink(t->path);
}

void lkb_temp_register(const char *path, bool is_dir)
{
    pthread_mutex_lock(&lock);
    if (n_temps == cap_temps) {
        size_t nc = cap_temps ? cap_temps * 2 : 16;
        struct temp *nt = realloc(temps, nc * sizeof *nt);
        if (nt) {
            temps = nt;
            cap_temps = nc;
        }
    }
    /* Out of memory: the file is only left to the next run's sweep. */
    char *copy = n_temps < cap_temps ? strdup(path) : NULL;
    if (copy)
        temps[n_temps++] = (struct temp){copy, is_dir};
    if (dying && copy)
        remove_one(&temps[n_temps - 1]);
    pthread_mutex_unlock(&lock);
}

void lkb_temp_forget(const char *path)
{
    pthread_mutex_lock(&lock);
    for (size_t i = n_temps; i-- > 0;)
        if (strcmp(temps[i].path, path) == 0) {
            free(temps[i].path);
            temps[i] = temps[--n_temps];
            break;
        }
    pthread_mutex_unlock(&lock);
}

bool lkb_temp_inside(const char *path)
{
    bool inside = false;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_temps && !inside; i++) {
        size_t n = strlen(temps[i].path);
        inside = temps[i].is_dir && strncmp(path, temps[i].path, n) == 0 && path[n] == '/';
    }
    pthread_mutex_unlock(&lock);
    return inside;
}

/* The handler only writes the signal number to a pipe (async-signal-safe);
 * a thread does the cleanup with ordinary code. No signal is blocked, so
 * programs lkb runs start with the usual mask, and exec resets the handler. */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char c = (unsigned char)sig;
    int saved = errno;
    if (write(sig_pipe[1], &c, 1) < 0) {
        /* nothing better to do in a handler */
    }
    errno = saved;
}

/* SIGXFSZ (a write over RLIMIT_FSIZE) is caught and dropped: the write
 * then fails with EFBIG and the build reports it and cleans up, instead of
 * dying mid-write with its temporaries left (issue 18). A handler, not
 * SIG_IGN, so the tools lkb runs get the default back at exec. */
static void on_xfsz(int sig) { (void)sig; }

static void *signal_thread(void *arg)
{
    (void)arg;
    unsigned char c;
    while (read(sig_pipe[0], &c, 1) != 1)
        ;
    int sig = c;
    pthread_mutex_lock(&lock);
    dying = true;
    for (size_t i = 0; i < n_temps; i++)
        remove_one(&temps[i]);
    pthread_mutex_unlock(&lock);
    /* Die of the signal itself, so the parent sees the usual status. */
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

int lkb_temp_install_signal_cleanup(struct lkb_error *err)
{
    if (pipe2(sig_pipe, O_CLOEXEC) < 0)
        return lkb_error_errno(err, LKB_ERR_INTERNAL, errno, "starting the signal handler");
    pthread_t t;
    int e = pthread_create(&t, NULL, signal_thread, NULL);
    if (e != 0)
        return lkb_error_errno(err, LKB_ERR_INTERNAL, e, "starting the signal handler");
    pthread_detach(t);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, NULL);
    sa.sa_handler = on_xfsz;
    sigaction(SIGXFSZ, &sa, NULL);
    return 0;
}

bool lkb_temp_owner_dead(const char *pid_text)
{
    char *end;
    errno = 0;
    long pid = strtol(pid_text, &end, 10);
    if (errno || end == pid_text || *end != '-' || pid <= 0 || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

void lkb_temp_remove_stale(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t plen = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, plen) != 0 || !lkb_temp_owner_dead(e->d_name + plen))
            continue;
        char *p = lkb_strf("%s/%s", dir, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && st.st_uid == getuid()) {
            struct lkb_error ignored;
            if (S_ISDIR(st.st_mode))
                lkb_fs_remove_tree(p, &ignored);
            else
                unlink(p);
        }
        free(p);
    }
    closedir(d);
}
