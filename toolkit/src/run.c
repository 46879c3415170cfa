/* pipe2: the pipe is close-on-exec from birth, so a tool another thread
 * spawns at the same moment cannot inherit it and keep our read open. */
#define _GNU_SOURCE
#include <lkb/disk/run.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"

#define STDERR_KEEP 2048 /* of the tool's stderr, into the message */

/* argv[0] on the search path; malloc'd, NULL when not found. */
static char *resolve(const char *tool, const char *path)
{
    if (strchr(tool, '/'))
        return access(tool, X_OK) == 0 ? strdup(tool) : NULL;
    for (const char *p = path; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t dl = colon ? (size_t)(colon - p) : strlen(p);
        if (dl) {
            size_t len = dl + strlen(tool) + 2;
            char *cand = malloc(len);
            if (!cand)
                return NULL;
            snprintf(cand, len, "%.*s/%s", (int)dl, p, tool);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
                return cand;
            free(cand);
        }
        p = colon ? colon + 1 : p + dl;
    }
    return NULL;
}

static char *default_path(void)
{
    const char *p = getenv("PATH");
    const char *extra = "/usr/sbin:/sbin";
    size_t len = (p ? strlen(p) : 0) + strlen(extra) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s%s", p ? p : "", p && *p ? ":" : "", extra);
    return s;
}

/* "NAME=VALUE" joined; malloc'd. */
static char *env_entry(const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s=%s", name, value);
    return s;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

int lkb_run(const char *const *argv, const struct lkb_run_opts *o, struct lkb_disk_error *err)
{
    if (!argv || !argv[0])
        return disk_error(err, "no tool to run");
    const char *tool = argv[0];
    char *search = o && o->path ? strdup(o->path) : default_path();
    char *exe = search ? resolve(tool, search) : NULL;
    if (!search) {
        free(exe);
        return disk_error(err, "out of memory");
    }
    if (!exe) {
        if (o && o->package)
            disk_error(err, "%s not found (searched %s): install the Debian package %s", tool,
                       search, o->package);
        else
            disk_error(err, "%s not found (searched %s)", tool, search);
        free(search);
        return -1;
    }

    /* The environment: fixed entries, then the caller's. */
    size_t n_extra = 0;
    while (o && o->env && o->env[n_extra])
        n_extra++;
    char **envp = calloc(n_extra + 5, sizeof *envp);
    char epoch[32];
    size_t ne = 0;
    int rc = envp ? 0 : disk_error(err, "out of memory");
    if (rc == 0) {
        envp[ne++] = env_entry("PATH", search);
        envp[ne++] = env_entry("LC_ALL", "C");
        envp[ne++] = env_entry("TZ", "UTC");
        if (o && o->source_date_epoch >= 0) {
            snprintf(epoch, sizeof epoch, "%lld", (long long)o->source_date_epoch);
            envp[ne++] = env_entry("SOURCE_DATE_EPOCH", epoch);
        }
        for (size_t i = 0; i < ne; i++)
            if (!envp[i])
                rc = disk_error(err, "out of memory");
        for (size_t i = 0; i < n_extra; i++)
            envp[ne++] = (char *)o->env[i]; /* not freed below */
    }

    int pipefd[2] = {-1, -1}, null_fd = -1;
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    pid_t pid = -1;
    if (rc == 0 && (pipe2(pipefd, O_CLOEXEC) < 0 || (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0))
        rc = disk_errno(err, errno, "running %s", tool);
    if (rc == 0) {
        fa_ok = posix_spawn_file_actions_init(&fa) == 0;
        int out = o && o->stdout_fd >= 0 ? o->stdout_fd : null_fd;
        if (!fa_ok || posix_spawn_file_actions_adddup2(&fa, null_fd, 0) ||
            posix_spawn_file_actions_adddup2(&fa, out, 1) ||
            posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2))
            rc = disk_error(err, "running %s: out of memory", tool);
    }
    if (rc == 0) {
        int e = posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, envp);
        if (e)
            rc = disk_errno(err, e, "running %s", exe);
    }
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    /* Keep the start of stderr (where tools say what went wrong) and drain
     * the rest so the tool never blocks on a full pipe. */
    char keep[STDERR_KEEP + 1];
    size_t kept = 0;
    while (rc == 0) {
        char buf[4096];
        ssize_t r = read(pipefd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t take = (size_t)r < STDERR_KEEP - kept ? (size_t)r : STDERR_KEEP - kept;
        memcpy(keep + kept, buf, take);
        kept += take;
    }
    keep[kept] = '\0';
    int status = 0;
    if (pid > 0)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        trim(keep);
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
        rc = disk_error(err, "%s failed (%s)%s%s", tool, how, kept ? ": " : "", keep);
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (null_fd >= 0)
        close(null_fd);
    for (size_t i = 0; envp && i < ne - n_extra; i++)
        free(envp[i]);
    free(envp);
    free(exe);
    free(search);
    return rc;
}
