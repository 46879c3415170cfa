#include "pipeline/tool_run.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/str.h"

/* The tool's environment: PATH, TMPDIR, LC_ALL=C, TZ=UTC and the extras;
 * nothing else of ours (SOURCE_DATE_EPOCH changes what mksquashfs does). */
static char **tool_env(const char *const *extra)
{
    size_t n = 0;
    while (extra && extra[n])
        n++;
    char **env = calloc(n + 5, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *path = getenv("PATH"), *tmp = getenv("TMPDIR");
    env[k++] = lkb_strf("PATH=%s", path ? path : "/usr/bin:/bin:/usr/sbin:/sbin");
    if (tmp)
        env[k++] = lkb_strf("TMPDIR=%s", tmp);
    env[k++] = strdup("LC_ALL=C");
    env[k++] = strdup("TZ=UTC");
    for (size_t i = 0; i < n; i++)
        env[k++] = strdup(extra[i]);
    for (size_t i = 0; i < k; i++)
        if (!env[i]) {
            for (size_t j = 0; j < k; j++)
                free(env[j]);
            free(env);
            return NULL;
        }
    return env;
}

/* The last bytes of what the tool wrote on stderr, as one line. */
static void stderr_tail(int fd, char *out, size_t size)
{
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > (off_t)size - 1 ? end - (off_t)size + 1 : 0;
    ssize_t n = pread(fd, out, size - 1, from);
    out[n > 0 ? n : 0] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int lkb_tool_run(const char *const *argv, const char *const *env, const char *package,
                 struct lkb_error *err)
{
    int errfd = lkb_fs_scratch_file(err);
    if (errfd < 0)
        return -1;
    char **envp = tool_env(env);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    pid_t pid;
    int rc = envp ? posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, envp) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
    if (rc != 0) {
        close(errfd);
        if (rc == ENOENT)
            return lkb_error_set(err, LKB_ERR_BUILD, "%s not found: install the Debian package %s",
                                 argv[0], package);
        return lkb_error_errno(err, LKB_ERR_BUILD, rc, "running %s", argv[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            close(errfd);
            return lkb_error_errno(err, LKB_ERR_BUILD, errno, "waiting for %s", argv[0]);
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        close(errfd);
        return 0;
    }
    char msg[600];
    stderr_tail(errfd, msg, sizeof msg);
    close(errfd);
    if (WIFEXITED(status))
        return lkb_error_set(err, LKB_ERR_BUILD, "%s failed (exit status %d): %s", argv[0],
                             WEXITSTATUS(status), msg);
    return lkb_error_set(err, LKB_ERR_BUILD, "%s killed by signal %d: %s", argv[0],
                         WTERMSIG(status), msg);
}
