/* Running qemu-img and mtools for lkb run: QEMU's block drivers and
 * mtools' FAT reader are the well-kept code for container formats and the
 * SD card, so lkb asks them instead of decoding those formats itself. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run/run.h"

extern char **environ;

int lkb_run_tool(char *const argv[], const char *package, const char *log,
                 struct lkb_error *err)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (log) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT)
        return lkb_error_set(err, LKB_ERR_USAGE, "%s not found: install the Debian package %s",
                             argv[0], package);
    if (rc != 0)
        return lkb_error_errno(err, LKB_ERR_IO, rc, "starting %s", argv[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return lkb_error_errno(err, LKB_ERR_INTERNAL, errno, "waiting for %s", argv[0]);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        return lkb_error_set(err, LKB_ERR_IO, "%s %s failed (exit %d)%s%s", argv[0],
                             argv[1] ? argv[1] : "", WEXITSTATUS(status), log ? ", see " : "",
                             log ? log : "");
    return lkb_error_set(err, LKB_ERR_IO, "%s killed by signal %d", argv[0], WTERMSIG(status));
}
