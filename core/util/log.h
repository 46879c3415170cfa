/* Leveled logging to stderr. The only place lkb prints diagnostics. */
#ifndef LKB_UTIL_LOG_H
#define LKB_UTIL_LOG_H

enum lkb_log_level {
    LKB_LOG_ERROR = 0,
    LKB_LOG_WARN = 1,
    LKB_LOG_INFO = 2,
    LKB_LOG_DEBUG = 3,
};

/* Messages above this level are dropped. Default: LKB_LOG_INFO. */
void lkb_log_set_level(enum lkb_log_level level);
enum lkb_log_level lkb_log_get_level(void);

void lkb_log(enum lkb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lkb_info(...) lkb_log(LKB_LOG_INFO, __VA_ARGS__)
#define lkb_warn(...) lkb_log(LKB_LOG_WARN, __VA_ARGS__)
#define lkb_debug(...) lkb_log(LKB_LOG_DEBUG, __VA_ARGS__)

/* Seconds on the monotonic clock: for timings, back-offs and -v's
 * breakdown of where a build's time goes. */
double lkb_now_s(void);

#endif
