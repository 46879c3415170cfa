#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci/blobfetch.h"
#include "util/log.h"

enum job_state { JOB_WAITING, JOB_RUNNING, JOB_DONE };

struct transfer {
    struct oci_blob_job *job;
    int cur;                 /* endpoint in job->src */
    struct oci_endpoint *ep; /* where the running attempt goes */
    enum job_state state;
    int attempts, auth_refreshes;
    long long not_before; /* monotonic ms: back-off */
    CURL *easy;
    struct curl_slist *headers;
    struct oci_ingest in;
    struct oci_response resp; /* headers only */
    bool too_long, io_failed;
    struct lkb_error io_err;
    struct oci_progress *progress;
    char errbuf[CURL_ERROR_SIZE];
    char last_error[LKB_ERROR_MSG_MAX];
    char mirror_error[LKB_ERROR_MSG_MAX + 32]; /* why the mirror was left, for the final error */
};

static long long now_ms(void) { return (long long)(lkb_now_s() * 1000); }

static size_t write_cb(char *buf, size_t size, size_t n, void *data)
{
    struct transfer *t = data;
    size_t len = size * n;
    if (t->job->size >= 0 && t->in.written + len > (uint64_t)t->job->size) {
        t->too_long = true;
        return 0;
    }
    if (oci_ingest_write(&t->in, buf, len, &t->io_err) < 0) {
        t->io_failed = true;
        return 0;
    }
    oci_progress_advance(t->progress, t->job->progress_slot, (int64_t)len);
    return len;
}

static void finish_handle(struct oci_client *c, struct transfer *t)
{
    if (t->easy) {
        curl_multi_remove_handle(c->multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    oci_response_free(&t->resp);
}

static int start(struct oci_client *c, struct lkb_cache *cache, struct transfer *t,
                 struct lkb_error *err)
{
    struct oci_blob_job *j = t->job;
    if (!(t->ep = oci_source_endpoint(c, j->src, &t->cur, err))) {
        if (t->mirror_error[0]) {
            char own[LKB_ERROR_MSG_MAX];
            snprintf(own, sizeof own, "%s", err->msg);
            lkb_error_set(err, LKB_ERR_FETCH, "%s (the mirror had failed: %s)", own,
                          t->mirror_error);
        }
        return lkb_error_prefix(err, "pulling %s: blob %s: ", j->image, j->digest);
    }
    if (oci_ingest_open(cache, &t->in, err) < 0)
        return -1;
    const char *auth;
    if (oci_auth_header(c, t->ep->reg, t->ep->repo, &auth, err) < 0)
        return -1;
    char *url = lkb_strf("%s/v2/%s/blobs/%s", t->ep->reg->base, t->ep->repo, j->digest);
    t->easy = curl_easy_init();
    if (!url || !t->easy) {
        free(url);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (auth)
        t->headers = curl_slist_append(NULL, auth);
    oci_client_setup_easy(c, t->easy);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT, oci_client_deadline(c, j->size));
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, oci_header_cb);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, &t->resp);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    /* A body to discard on error statuses must not be written as blob. */
    curl_easy_setopt(t->easy, CURLOPT_FAILONERROR, 0L);
    free(url);
    t->errbuf[0] = '\0';
    t->too_long = t->io_failed = false;
    t->attempts++;
    t->state = JOB_RUNNING;
    if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "curl_multi_add_handle failed");
    return 0;
}

/* Turn a failed attempt into a scheduled retry, or an error. */
static int retry_or_fail(struct oci_client *c, struct transfer *t, struct lkb_error *err)
{
    oci_progress_advance(t->progress, t->job->progress_slot, -(int64_t)t->in.written);
    oci_ingest_abort(&t->in);
    if (t->attempts >= c->max_attempts)
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "pulling %s: blob %s failed after %d attempts: %s", t->job->image,
                             t->job->digest, t->attempts, t->last_error);
    long ms = oci_backoff_ms(c, t->attempts);
    lkb_debug("pulling %s: blob %s: %s; retrying in %ld ms", t->job->image, t->job->digest,
              t->last_error, ms);
    t->not_before = now_ms() + ms;
    t->state = JOB_WAITING;
    return 0;
}

static int completed(struct oci_client *c, struct lkb_cache *cache,
                     struct oci_ingest_batch *batch, struct transfer *t, CURLcode cr,
                     struct lkb_error *err)
{
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    char *www_auth = t->resp.www_auth ? strdup(t->resp.www_auth) : NULL;
    finish_handle(c, t);
    struct oci_blob_job *j = t->job;
    int rc = 0;
    if (t->io_failed) {
        oci_ingest_abort(&t->in);
        *err = t->io_err;
        rc = lkb_error_prefix(err, "pulling %s: blob %s: ", j->image, j->digest);
    } else if (cr != CURLE_OK && !(cr == CURLE_WRITE_ERROR && t->too_long)) {
        snprintf(t->last_error, sizeof t->last_error, "%s",
                 t->errbuf[0] ? t->errbuf : curl_easy_strerror(cr));
        if (oci_retryable_curl(cr)) {
            rc = retry_or_fail(c, t, err);
        } else {
            oci_ingest_abort(&t->in);
            rc = lkb_error_set(err, LKB_ERR_FETCH, "pulling %s: blob %s: %s", j->image,
                               j->digest, t->last_error);
        }
    } else if (status == 401 && t->auth_refreshes++ < 2) {
        oci_ingest_abort(&t->in);
        t->attempts--; /* an authentication round trip is not a failure */
        if ((rc = oci_auth_refresh(c, t->ep->reg, t->ep->repo, www_auth, err)) < 0)
            lkb_error_prefix(err, "pulling %s: blob %s: ", j->image, j->digest);
        else
            t->state = JOB_WAITING;
    } else if (status != 200) {
        snprintf(t->last_error, sizeof t->last_error, "HTTP %ld", status);
        if (oci_retryable_status(status)) {
            rc = retry_or_fail(c, t, err);
        } else {
            oci_ingest_abort(&t->in);
            rc = lkb_error_set(err, LKB_ERR_FETCH, "pulling %s: blob %s: registry answered HTTP %ld",
                               j->image, j->digest, status);
        }
    } else if (t->too_long) {
        snprintf(t->last_error, sizeof t->last_error, "body longer than the %lld bytes expected",
                 (long long)j->size);
        rc = retry_or_fail(c, t, err);
    } else {
        uint64_t got = t->in.written;
        struct lkb_error cerr;
        lkb_error_clear(&cerr);
        /* The layer's bytes for on_layer, which may read them before the
         * batch stores the blob. */
        int keep = j->layer && c->on_layer ? fcntl(t->in.fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (oci_ingest_finish(cache, &t->in, j->digest, j->size, batch, &cerr) == 0) {
            t->state = JOB_DONE;
            if (keep >= 0) {
                c->on_layer(c->on_layer_ctx, j->digest, keep);
                keep = -1;
            }
            if (c->verbose)
                lkb_info("%s: blob %s from %s/v2/%s/blobs/", j->image, j->digest,
                         t->ep->reg->base, t->ep->repo);
        } else if (cerr.kind == LKB_ERR_FETCH) {
            /* Short body or wrong bytes: the temp file is already gone. */
            snprintf(t->last_error, sizeof t->last_error, "%s", cerr.msg);
            oci_progress_advance(t->progress, j->progress_slot, -(int64_t)got);
            t->in.written = 0;
            rc = retry_or_fail(c, t, err);
        } else {
            *err = cerr;
            rc = lkb_error_prefix(err, "pulling %s: blob %s: ", j->image, j->digest);
        }
        if (keep >= 0)
            close(keep);
    }
    free(www_auth);
    if (rc < 0 && err->kind == LKB_ERR_FETCH && t->ep && t->ep->mirror) {
        /* A mirror that cannot serve the blob: the origin gets a fresh
         * set of attempts; the bytes are verified the same way. The
         * warning says what went wrong, not the whole error chain. */
        const char *last = t->last_error;
        size_t dl = strlen(j->digest);
        if (!strncmp(last, "blob ", 5) && !strncmp(last + 5, j->digest, dl) &&
            !strncmp(last + 5 + dl, ": ", 2))
            last += 5 + dl + 2; /* "blob sha256:…: digest mismatch…" names it twice */
        if (*last)
            snprintf(t->mirror_error, sizeof t->mirror_error, "%s (%d attempt%s)", last,
                     t->attempts, t->attempts == 1 ? "" : "s");
        else
            snprintf(t->mirror_error, sizeof t->mirror_error, "%s", err->msg);
        char what[300];
        snprintf(what, sizeof what, "blob %s of %s", j->digest, j->image);
        if (oci_source_fallback(j->src, &t->cur, what, t->mirror_error)) {
            lkb_error_clear(err);
            t->last_error[0] = '\0';
            t->attempts = t->auth_refreshes = 0;
            t->not_before = 0;
            t->state = JOB_WAITING;
            return 0;
        }
    } else if (rc < 0 && err->kind == LKB_ERR_FETCH && t->mirror_error[0]) {
        char own[LKB_ERROR_MSG_MAX];
        snprintf(own, sizeof own, "%s", err->msg);
        lkb_error_set(err, LKB_ERR_FETCH, "%s (the mirror had failed: %s)", own,
                      t->mirror_error);
    }
    return rc;
}

static int larger_first(const void *a, const void *b)
{
    const struct oci_blob_job *x = *(const struct oci_blob_job *const *)a,
                              *y = *(const struct oci_blob_job *const *)b;
    return x->size > y->size ? -1 : x->size < y->size;
}

int oci_fetch_blobs(struct oci_client *c, struct lkb_cache *cache, struct oci_ingest_batch *batch,
                    struct oci_blob_job *jobs,
                    size_t n, struct oci_progress *progress, struct lkb_error *err)
{
    if (n == 0)
        return 0;
    struct transfer *ts = calloc(n, sizeof *ts);
    if (!ts)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    /* Largest first: the longest transfer starts at once, and the layer
     * it brings (usually the one that takes longest to unpack) is handed
     * to on_layer early rather than last. */
    struct oci_blob_job **order = malloc(n * sizeof *order);
    if (!order) {
        free(ts);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        order[i] = &jobs[i];
    qsort(order, n, sizeof *order, larger_first);
    for (size_t i = 0; i < n; i++) {
        ts[i].job = order[i];
        ts[i].cur = order[i]->src->cur; /* where the manifest came from */
        ts[i].in.fd = -1;
        ts[i].progress = progress;
    }
    size_t done = 0;
    int rc = 0;
    while (done < n && rc == 0) {
        int running = 0;
        long long now = now_ms(), wait = 1000;
        for (size_t i = 0; i < n; i++)
            running += ts[i].state == JOB_RUNNING;
        for (size_t i = 0; i < n && rc == 0 && running < c->parallel; i++) {
            struct transfer *t = &ts[i];
            if (t->state != JOB_WAITING)
                continue;
            if (t->not_before > now) {
                if (t->not_before - now < wait)
                    wait = t->not_before - now;
                continue;
            }
            /* Another lkb process may have stored it meanwhile. */
            if (oci_blob_present(cache, t->job->digest, t->job->size)) {
                t->state = JOB_DONE;
                done++;
                continue;
            }
            if ((rc = start(c, cache, t, err)) == 0)
                running++;
        }
        if (rc < 0)
            break;
        int still;
        curl_multi_perform(c->multi, &still);
        CURLMsg *m;
        int left, finished = 0;
        while (rc == 0 && (m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct transfer *t;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            rc = completed(c, cache, batch, t, m->data.result, err);
            finished++;
            if (t->state == JOB_DONE)
                done++;
        }
        oci_progress_draw(progress, false);
        /* A finished transfer frees a slot: start the next one first.
         * Polling now could wait the whole timeout with nothing running
         * (it cost pulls a stalled second when the last transfers ended
         * together). */
        if (rc == 0 && done < n && !finished)
            curl_multi_poll(c->multi, NULL, 0, (int)(wait > 0 ? wait : 1), NULL);
    }
    for (size_t i = 0; i < n; i++) {
        finish_handle(c, &ts[i]);
        oci_ingest_abort(&ts[i].in);
    }
    free(ts);
    free(order);
    return rc;
}
