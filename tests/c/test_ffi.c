/*
 * The C ABI against the emulator: every exported function, every status code with its
 * details, NULL in every pointer, multipart uploads (path and buffer) with progress, and an
 * upload cancelled from a second thread. Run by tests/c/run.sh (under valgrind), which starts
 * the emulators and passes what the test needs in FC_TEST_* environment variables.
 * Prints one line per test, then "N passed, M failed"; exits 0 only when none failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fluidcloud.h"

/* ----- harness ----- */

static int g_fail;   /* failed checks in the current test */
static int g_passed, g_failed;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "    check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            g_fail++;                                                                   \
        }                                                                               \
    } while (0)

/* A call that must succeed; on failure the test stops (what it made may leak: it failed). */
#define REQUIRE_OK(expr)                                                                 \
    do {                                                                                 \
        fc_error *e_ = NULL;                                                             \
        fc_error **err_ = &e_;                                                           \
        (void)err_;                                                                      \
        fc_status s_ = (expr);                                                           \
        if (s_ != FC_OK) {                                                               \
            fprintf(stderr, "    %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,      \
                    fc_status_name(s_), e_ ? fc_error_message(e_) : "(no details)");     \
            fc_error_free(e_);                                                           \
            g_fail++;                                                                    \
            return;                                                                      \
        }                                                                                \
    } while (0)

/* The `err` out-parameter of REQUIRE_OK expressions. */
#define ERR err_

static void run(const char *name, void (*test)(void)) {
    g_fail = 0;
    test();
    if (g_fail == 0) {
        g_passed++;
        printf("ok   %s\n", name);
    } else {
        g_failed++;
        printf("FAIL %s (%d checks)\n", name, g_fail);
    }
    fflush(stdout);
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "test_ffi: %s is not set (run tests/c/run.sh)\n", name);
        exit(2);
    }
    return v;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *g_url, *g_key, *g_key_readonly, *g_key_small, *g_slow_url, *g_jwt, *g_delay_id, *g_tmp;
static size_t g_part_size;

/* Checks a failure: status, the error's code, HTTP status, message, and optionally a
   substring of detail_json and the presence of a request id. Frees the error. */
static void expect_failure(int line, fc_status got, fc_error *err, fc_status want, uint16_t http,
                           const char *detail_has, int want_request_id) {
    int before = g_fail;
    CHECK(got == want);
    CHECK(err != NULL);
    if (err) {
        CHECK(fc_error_code(err) == want);
        CHECK(fc_error_http_status(err) == http);
        const char *msg = fc_error_message(err);
        CHECK(msg != NULL && strlen(msg) > 0);
        CHECK(fc_error_call(err) != NULL && strlen(fc_error_call(err)) > 0);
        const char *detail = fc_error_detail_json(err);
        if (detail_has) {
            CHECK(detail != NULL && strstr(detail, detail_has) != NULL);
        } else if (http == 0) {
            CHECK(detail == NULL);
        }
        if (want_request_id) {
            CHECK(fc_error_request_id(err) != NULL && strlen(fc_error_request_id(err)) > 0);
        } else if (http == 0) {
            CHECK(fc_error_request_id(err) == NULL);
        }
        if (g_fail != before) {
            fprintf(stderr, "    (line %d) got %s, http %u, message \"%s\", detail %s\n", line,
                    fc_status_name(fc_error_code(err)), fc_error_http_status(err), msg ? msg : "(null)",
                    detail ? detail : "(null)");
        }
    } else if (g_fail != before) {
        fprintf(stderr, "    (line %d) got %s without details\n", line, fc_status_name(got));
    }
    fc_error_free(err);
}
/* The call runs first, then its err out-parameter is read. */
#define EXPECT_FAILURE(got, err, want, http, detail, rid)                      \
    do {                                                                      \
        fc_status got_ = (got);                                               \
        expect_failure(__LINE__, got_, err, want, http, detail, rid);         \
    } while (0)

static fc_client *new_client(const char *url, const char *key, uint64_t timeout_ms, uint32_t retries) {
    fc_client_options *o = NULL;
    fc_client *c = NULL;
    fc_error *err = NULL;
    if (fc_client_options_new(&o) != FC_OK) return NULL;
    fc_client_options_set_base_url(o, url);
    fc_client_options_set_api_key(o, key);
    fc_client_options_set_proxy(o, "");
    fc_client_options_set_max_retries(o, retries);
    if (timeout_ms) fc_client_options_set_timeout_ms(o, timeout_ms);
    fc_status s = fc_client_new(o, &c, &err);
    if (s != FC_OK) {
        fprintf(stderr, "    fc_client_new: %s\n", fc_error_message(err));
        fc_error_free(err);
    }
    fc_client_options_free(o);
    return c;
}

static char *make_file(const char *name, size_t size, unsigned seed) {
    char *path = NULL;
    if (asprintf(&path, "%s/%s", g_tmp, name) < 0) return NULL;
    FILE *f = fopen(path, "wb");
    if (!f) { free(path); return NULL; }
    for (size_t i = 0; i < size; i++) fputc((int)((i * 31 + seed) & 0xff), f);
    fclose(f);
    return path;
}

static unsigned char *make_buffer(size_t size, unsigned seed) {
    unsigned char *b = malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++) b[i] = (unsigned char)((i * 7 + seed) & 0xff);
    return b;
}

static int file_equals(const char *path, const unsigned char *want, size_t len) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char *got = malloc(len + 1);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    int same = n == len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n ? n : 1);
    *len = fread(b, 1, n, f);
    fclose(f);
    return b;
}

/* ----- progress ----- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t caller;
    uint64_t calls, last, total;
    int backwards, started, on_other_thread, total_changed;
    const char *append_to; /* integrity test: grow this file on the first call */
} progress_t;

static void progress_init(progress_t *p) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->caller = pthread_self();
}

static void progress_destroy(progress_t *p) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

static void on_progress(uint64_t done, uint64_t total, void *user_data) {
    progress_t *p = user_data;
    pthread_mutex_lock(&p->mu);
    if (p->calls > 0 && done < p->last) p->backwards = 1;
    if (p->calls > 0 && total != p->total) p->total_changed = 1;
    if (!pthread_equal(pthread_self(), p->caller)) p->on_other_thread = 1;
    p->calls++;
    p->last = done;
    p->total = total;
    if (p->append_to && p->calls == 1) {
        int fd = open(p->append_to, O_WRONLY | O_APPEND);
        if (fd >= 0) {
            if (write(fd, "grown", 5) != 5) { /* the upload then succeeds and the test fails */ }
            close(fd);
        }
    }
    p->started = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ----- tests ----- */

static void test_version_and_status_names(void) {
    CHECK(fc_version() != NULL && strcmp(fc_version(), "0.1.0") == 0);
    CHECK(strcmp(fc_status_name(FC_OK), "FC_OK") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_AUTH), "FC_ERR_AUTH") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_QUOTA), "FC_ERR_QUOTA") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_PERMISSION), "FC_ERR_PERMISSION") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_NOT_FOUND), "FC_ERR_NOT_FOUND") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_CONFLICT), "FC_ERR_CONFLICT") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_API), "FC_ERR_API") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_CONNECT), "FC_ERR_CONNECT") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_TIMEOUT), "FC_ERR_TIMEOUT") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_CANCELLED), "FC_ERR_CANCELLED") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_INVALID_ARGUMENT), "FC_ERR_INVALID_ARGUMENT") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_IO), "FC_ERR_IO") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_INTEGRITY), "FC_ERR_INTEGRITY") == 0);
    CHECK(strcmp(fc_status_name(FC_ERR_PANIC), "FC_ERR_PANIC") == 0);
    CHECK(strcmp(fc_status_name(-1), "FC_ERR_UNKNOWN") == 0);
    CHECK(strcmp(fc_status_name(1000), "FC_ERR_UNKNOWN") == 0);
}

/* NULL in every pointer parameter: FC_ERR_INVALID_ARGUMENT with details, out untouched. */
#define SENT(T) ((T *)(uintptr_t)0x5e5e5e50)
#define NULL_ARG(expr)                                                                   \
    do {                                                                                 \
        fc_status s_ = (expr);                                                           \
        if (s_ != FC_ERR_INVALID_ARGUMENT) {                                             \
            fprintf(stderr, "    %s:%d: %s -> %s\n", __FILE__, __LINE__, #expr, fc_status_name(s_)); \
            g_fail++;                                                                    \
        }                                                                                \
        n_null++;                                                                        \
    } while (0)
#define NULL_ARG_E(expr)                                                                 \
    do {                                                                                 \
        nerr = NULL;                                                                     \
        NULL_ARG(expr);                                                                  \
        CHECK(nerr != NULL);                                                             \
        if (nerr) {                                                                      \
            CHECK(fc_error_code(nerr) == FC_ERR_INVALID_ARGUMENT);                       \
            CHECK(fc_error_http_status(nerr) == 0);                                      \
            CHECK(strstr(fc_error_message(nerr), "NULL") != NULL);                       \
            CHECK(fc_error_detail_json(nerr) == NULL && fc_error_request_id(nerr) == NULL); \
            CHECK(!fc_error_retryable(nerr));                                            \
        }                                                                                \
        fc_error_free(nerr);                                                             \
    } while (0)

static void test_null_everywhere(void) {
    int n_null = 0;
    fc_error *nerr = NULL;
    fc_client *client = new_client(g_url, g_key, 0, 2);
    CHECK(client != NULL);
    if (!client) return;
    fc_client_options *copts = SENT(fc_client_options), *real_opts = NULL;
    fc_client *cl = SENT(fc_client);
    fc_space_list *sl = SENT(fc_space_list);
    fc_space *sp = SENT(fc_space);
    fc_folder_list *fl = SENT(fc_folder_list);
    fc_folder *fo = SENT(fc_folder);
    fc_file_list *fil = SENT(fc_file_list);
    fc_file *fi = SENT(fc_file);
    fc_download_url *du = SENT(fc_download_url);
    fc_link *li = SENT(fc_link);
    fc_share_list *shl = SENT(fc_share_list);
    fc_quota *qu = SENT(fc_quota);
    fc_token *to = SENT(fc_token);
    fc_cancel *ca = SENT(fc_cancel), *real_cancel = NULL;
    fc_upload_options *uo = SENT(fc_upload_options), *real_uo = NULL;
    const char *id = "00000000-0000-4000-8000-000000000001";
    unsigned char byte = 'x';

    /* errors */
    CHECK(fc_error_code(NULL) == FC_ERR_INVALID_ARGUMENT);
    CHECK(fc_error_http_status(NULL) == 0);
    CHECK(!fc_error_retryable(NULL));
    CHECK(fc_error_message(NULL) == NULL);
    CHECK(fc_error_call(NULL) == NULL);
    CHECK(fc_error_detail_json(NULL) == NULL);
    CHECK(fc_error_request_id(NULL) == NULL);
    fc_error_free(NULL);

    /* client options */
    NULL_ARG(fc_client_options_new(NULL));
    REQUIRE_OK(fc_client_options_new(&real_opts));
    NULL_ARG(fc_client_options_set_api_key(NULL, "k"));
    NULL_ARG(fc_client_options_set_base_url(NULL, g_url));
    NULL_ARG(fc_client_options_set_api_version(NULL, "v1"));
    NULL_ARG(fc_client_options_set_user_agent(NULL, "t/1"));
    NULL_ARG(fc_client_options_set_proxy(NULL, ""));
    NULL_ARG(fc_client_options_set_timeout_ms(NULL, 1));
    NULL_ARG(fc_client_options_set_connect_timeout_ms(NULL, 1));
    NULL_ARG(fc_client_options_set_max_retries(NULL, 1));
    NULL_ARG(fc_client_options_set_concurrency(NULL, 1));
    NULL_ARG(fc_client_options_set_allow_insecure_http(NULL, true));
    NULL_ARG(fc_client_options_set_public_link_wait_ms(NULL, 1));
    /* NULL values are allowed where documented: they restore the default. */
    CHECK(fc_client_options_set_api_key(real_opts, NULL) == FC_OK);
    CHECK(fc_client_options_set_base_url(real_opts, NULL) == FC_OK);
    CHECK(fc_client_options_set_api_version(real_opts, NULL) == FC_OK);
    CHECK(fc_client_options_set_user_agent(real_opts, NULL) == FC_OK);
    CHECK(fc_client_options_set_proxy(real_opts, NULL) == FC_OK);
    fc_client_options_free(real_opts);
    fc_client_options_free(NULL);

    /* client */
    NULL_ARG_E(fc_client_new(NULL, NULL, &nerr));
    NULL_ARG(fc_client_new(NULL, NULL, NULL)); /* err may be NULL too */
    fc_client_free(NULL);
    NULL_ARG_E(fc_client_exchange_service_token(NULL, g_jwt, "app", NULL, 0, &to, &nerr));
    NULL_ARG_E(fc_client_exchange_service_token(client, NULL, "app", NULL, 0, &to, &nerr));
    NULL_ARG_E(fc_client_exchange_service_token(client, g_jwt, NULL, NULL, 0, &to, &nerr));
    NULL_ARG_E(fc_client_exchange_service_token(client, g_jwt, "app", NULL, 0, NULL, &nerr));
    NULL_ARG_E(fc_client_as_user(NULL, g_jwt, "app", NULL, 0, &cl, &nerr));
    NULL_ARG_E(fc_client_as_user(client, NULL, "app", NULL, 0, &cl, &nerr));
    NULL_ARG_E(fc_client_as_user(client, g_jwt, NULL, NULL, 0, &cl, &nerr));
    NULL_ARG_E(fc_client_as_user(client, g_jwt, "app", NULL, 0, NULL, &nerr));

    /* spaces */
    NULL_ARG_E(fc_spaces_list(NULL, &sl, &nerr));
    NULL_ARG_E(fc_spaces_list(client, NULL, &nerr));
    NULL_ARG_E(fc_spaces_create(NULL, "s", &sp, &nerr));
    NULL_ARG_E(fc_spaces_create(client, NULL, &sp, &nerr));
    NULL_ARG_E(fc_spaces_create(client, "never-created", NULL, &nerr));

    /* folders */
    NULL_ARG_E(fc_folders_list(NULL, id, NULL, false, &fl, &nerr));
    NULL_ARG_E(fc_folders_list(client, NULL, NULL, false, &fl, &nerr));
    NULL_ARG_E(fc_folders_list(client, id, NULL, false, NULL, &nerr));
    NULL_ARG_E(fc_folders_create(NULL, "f", id, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_create(client, NULL, id, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_create(client, "f", NULL, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_create(client, "f", id, NULL, NULL, &nerr));
    NULL_ARG_E(fc_folders_rename(NULL, id, "n", &fo, &nerr));
    NULL_ARG_E(fc_folders_rename(client, NULL, "n", &fo, &nerr));
    NULL_ARG_E(fc_folders_rename(client, id, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_rename(client, id, "n", NULL, &nerr));
    NULL_ARG_E(fc_folders_move(NULL, id, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_move(client, NULL, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_move(client, id, NULL, NULL, &nerr));
    NULL_ARG_E(fc_folders_delete(NULL, id, &fo, &nerr));
    NULL_ARG_E(fc_folders_delete(client, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_delete(client, id, NULL, &nerr));
    NULL_ARG_E(fc_folders_restore(NULL, id, &fo, &nerr));
    NULL_ARG_E(fc_folders_restore(client, NULL, &fo, &nerr));
    NULL_ARG_E(fc_folders_restore(client, id, NULL, &nerr));

    /* files */
    NULL_ARG_E(fc_files_list(NULL, id, NULL, false, NULL, &fil, &nerr));
    NULL_ARG_E(fc_files_list(client, NULL, NULL, false, NULL, &fil, &nerr));
    NULL_ARG_E(fc_files_list(client, id, NULL, false, NULL, NULL, &nerr));
    NULL_ARG_E(fc_files_get(NULL, id, &fi, &nerr));
    NULL_ARG_E(fc_files_get(client, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_get(client, id, NULL, &nerr));
    NULL_ARG_E(fc_files_resolve(NULL, "k", NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_resolve(client, NULL, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_resolve(client, "k", NULL, NULL, &nerr));
    NULL_ARG_E(fc_files_rename(NULL, id, "n", &fi, &nerr));
    NULL_ARG_E(fc_files_rename(client, NULL, "n", &fi, &nerr));
    NULL_ARG_E(fc_files_rename(client, id, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_rename(client, id, "n", NULL, &nerr));
    NULL_ARG_E(fc_files_move(NULL, id, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_move(client, NULL, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_move(client, id, NULL, NULL, &nerr));
    NULL_ARG_E(fc_files_delete(NULL, id, &fi, &nerr));
    NULL_ARG_E(fc_files_delete(client, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_delete(client, id, NULL, &nerr));
    NULL_ARG_E(fc_files_restore(NULL, id, &fi, &nerr));
    NULL_ARG_E(fc_files_restore(client, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_restore(client, id, NULL, &nerr));
    NULL_ARG_E(fc_files_download_url(NULL, id, &du, &nerr));
    NULL_ARG_E(fc_files_download_url(client, NULL, &du, &nerr));
    NULL_ARG_E(fc_files_download_url(client, id, NULL, &nerr));
    NULL_ARG_E(fc_files_public_url(NULL, id, &li, &nerr));
    NULL_ARG_E(fc_files_public_url(client, NULL, &li, &nerr));
    NULL_ARG_E(fc_files_public_url(client, id, NULL, &nerr));
    NULL_ARG_E(fc_files_signed_url(NULL, id, 1, FC_PERMISSION_VIEW, &li, &nerr));
    NULL_ARG_E(fc_files_signed_url(client, NULL, 1, FC_PERMISSION_VIEW, &li, &nerr));
    NULL_ARG_E(fc_files_signed_url(client, id, 1, FC_PERMISSION_VIEW, NULL, &nerr));

    /* shares, quota */
    NULL_ARG_E(fc_shares_list(NULL, NULL, false, &shl, &nerr));
    NULL_ARG_E(fc_shares_list(client, NULL, false, NULL, &nerr));
    NULL_ARG_E(fc_shares_revoke(NULL, id, &nerr));
    NULL_ARG_E(fc_shares_revoke(client, NULL, &nerr));
    NULL_ARG_E(fc_quota_usage(NULL, &qu, &nerr));
    NULL_ARG_E(fc_quota_usage(client, NULL, &nerr));

    /* cancellation */
    NULL_ARG(fc_cancel_new(NULL));
    NULL_ARG(fc_cancel_trigger(NULL));
    CHECK(!fc_cancel_is_triggered(NULL));
    fc_cancel_free(NULL);

    /* upload options */
    NULL_ARG(fc_upload_options_new(NULL, &uo));
    NULL_ARG(fc_upload_options_new(id, NULL));
    REQUIRE_OK(fc_upload_options_new(id, &real_uo));
    REQUIRE_OK(fc_cancel_new(&real_cancel));
    NULL_ARG(fc_upload_options_set_space_id(NULL, id));
    NULL_ARG(fc_upload_options_set_space_id(real_uo, NULL)); /* the space is required */
    NULL_ARG(fc_upload_options_set_folder_id(NULL, id));
    NULL_ARG(fc_upload_options_set_name(NULL, "n"));
    NULL_ARG(fc_upload_options_set_content_type(NULL, "text/plain"));
    NULL_ARG(fc_upload_options_set_app(NULL, "a"));
    NULL_ARG(fc_upload_options_set_client_key(NULL, "k"));
    NULL_ARG(fc_upload_options_set_public(NULL, true));
    NULL_ARG(fc_upload_options_set_progress(NULL, on_progress, NULL));
    NULL_ARG(fc_upload_options_set_cancel(NULL, real_cancel));
    CHECK(fc_upload_options_set_folder_id(real_uo, NULL) == FC_OK);
    CHECK(fc_upload_options_set_name(real_uo, NULL) == FC_OK);
    CHECK(fc_upload_options_set_content_type(real_uo, NULL) == FC_OK);
    CHECK(fc_upload_options_set_app(real_uo, NULL) == FC_OK);
    CHECK(fc_upload_options_set_client_key(real_uo, NULL) == FC_OK);
    CHECK(fc_upload_options_set_progress(real_uo, NULL, NULL) == FC_OK);
    CHECK(fc_upload_options_set_cancel(real_uo, NULL) == FC_OK);
    fc_upload_options_free(NULL);

    /* transfers */
    NULL_ARG_E(fc_files_upload_path(NULL, "/etc/hostname", real_uo, &fi, &nerr));
    NULL_ARG_E(fc_files_upload_path(client, NULL, real_uo, &fi, &nerr));
    NULL_ARG_E(fc_files_upload_path(client, "/etc/hostname", NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_upload_path(client, "/etc/hostname", real_uo, NULL, &nerr));
    NULL_ARG_E(fc_files_upload_buffer(NULL, &byte, 1, real_uo, &fi, &nerr));
    NULL_ARG_E(fc_files_upload_buffer(client, NULL, 1, real_uo, &fi, &nerr));
    NULL_ARG_E(fc_files_upload_buffer(client, &byte, 1, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_upload_buffer(client, &byte, 1, real_uo, NULL, &nerr));
    NULL_ARG_E(fc_files_download(NULL, id, "/tmp/x", NULL, NULL, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_download(client, NULL, "/tmp/x", NULL, NULL, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_download(client, id, NULL, NULL, NULL, NULL, &fi, &nerr));
    NULL_ARG_E(fc_files_download(client, id, "/tmp/x", NULL, NULL, NULL, NULL, &nerr));
    fc_upload_options_free(real_uo);
    fc_cancel_free(real_cancel);

    /* every record's free accepts NULL */
    fc_space_free(NULL);
    fc_folder_free(NULL);
    fc_file_free(NULL);
    fc_link_free(NULL);
    fc_quota_free(NULL);
    fc_token_free(NULL);
    fc_download_url_free(NULL);
    fc_space_list_free(NULL);
    fc_folder_list_free(NULL);
    fc_file_list_free(NULL);
    fc_share_list_free(NULL);

    /* out-params stayed untouched */
    CHECK(copts == SENT(fc_client_options) && cl == SENT(fc_client) && sl == SENT(fc_space_list));
    CHECK(sp == SENT(fc_space) && fl == SENT(fc_folder_list) && fo == SENT(fc_folder));
    CHECK(fil == SENT(fc_file_list) && fi == SENT(fc_file) && du == SENT(fc_download_url));
    CHECK(li == SENT(fc_link) && shl == SENT(fc_share_list) && qu == SENT(fc_quota));
    CHECK(to == SENT(fc_token) && ca == SENT(fc_cancel) && uo == SENT(fc_upload_options));
    CHECK(n_null > 100);

    /* nothing was created by the calls refused above */
    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(client, &spaces, ERR));
    for (size_t i = 0; i < spaces->len; i++) CHECK(strcmp(spaces->items[i].name, "never-created") != 0);
    fc_space_list_free(spaces);
    fc_client_free(client);
}

static void test_client_options_and_construction(void) {
    fc_client_options *o = NULL;
    fc_client *c = NULL, *c2 = NULL;
    fc_error *err = NULL;
    REQUIRE_OK(fc_client_options_new(&o));
    CHECK(fc_client_options_set_api_key(o, g_key) == FC_OK);
    CHECK(fc_client_options_set_base_url(o, g_url) == FC_OK);
    CHECK(fc_client_options_set_api_version(o, "v1") == FC_OK);
    CHECK(fc_client_options_set_user_agent(o, "fluidcloud-c-test/1") == FC_OK);
    CHECK(fc_client_options_set_proxy(o, "") == FC_OK);
    CHECK(fc_client_options_set_timeout_ms(o, 60000) == FC_OK);
    CHECK(fc_client_options_set_connect_timeout_ms(o, 5000) == FC_OK);
    CHECK(fc_client_options_set_max_retries(o, 1) == FC_OK);
    CHECK(fc_client_options_set_concurrency(o, 4) == FC_OK);
    CHECK(fc_client_options_set_allow_insecure_http(o, false) == FC_OK);
    CHECK(fc_client_options_set_public_link_wait_ms(o, 5000) == FC_OK);
    REQUIRE_OK(fc_client_new(o, &c, ERR));
    /* the options are copied: reuse them for a second client */
    REQUIRE_OK(fc_client_new(o, &c2, ERR));
    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(c2, &spaces, ERR));
    CHECK(spaces->len >= 1);
    fc_space_list_free(spaces);

    /* 0 is no limit, as in libcurl, not a timeout that has always passed */
    fc_client *patient = NULL;
    CHECK(fc_client_options_set_timeout_ms(o, 0) == FC_OK);
    CHECK(fc_client_options_set_connect_timeout_ms(o, 0) == FC_OK);
    REQUIRE_OK(fc_client_new(o, &patient, ERR));
    spaces = NULL;
    REQUIRE_OK(fc_spaces_list(patient, &spaces, ERR));
    CHECK(spaces->len >= 1);
    fc_space_list_free(spaces);
    fc_client_free(patient);
    CHECK(fc_client_options_set_timeout_ms(o, 60000) == FC_OK);
    CHECK(fc_client_options_set_connect_timeout_ms(o, 5000) == FC_OK);

    /* the core refuses bad options: FC_ERR_INVALID_ARGUMENT with a message */
    fc_client *bad = SENT(fc_client);
    CHECK(fc_client_options_set_concurrency(o, 0) == FC_OK);
    EXPECT_FAILURE(fc_client_new(o, &bad, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    CHECK(fc_client_options_set_concurrency(o, 8) == FC_OK);
    CHECK(fc_client_options_set_base_url(o, "http://example.invalid") == FC_OK);
    EXPECT_FAILURE(fc_client_new(o, &bad, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    CHECK(fc_client_options_set_base_url(o, "ftp://127.0.0.1") == FC_OK);
    EXPECT_FAILURE(fc_client_new(o, &bad, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    /* not UTF-8 */
    CHECK(fc_client_options_set_api_key(o, "\xff\xfe") == FC_ERR_INVALID_ARGUMENT);
    /* no key anywhere: options NULL reads the environment, which has none here */
    unsetenv("FLUIDCLOUD_API_KEY");
    EXPECT_FAILURE(fc_client_new(NULL, &bad, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    /* ...and with the environment set, NULL options are enough */
    setenv("FLUIDCLOUD_API_KEY", g_key, 1);
    setenv("FLUIDCLOUD_BASE_URL", g_url, 1);
    fc_client *from_env = NULL;
    REQUIRE_OK(fc_client_new(NULL, &from_env, ERR));
    fc_quota *q = NULL;
    REQUIRE_OK(fc_quota_usage(from_env, &q, ERR));
    fc_quota_free(q);
    unsetenv("FLUIDCLOUD_API_KEY");
    unsetenv("FLUIDCLOUD_BASE_URL");
    CHECK(bad == SENT(fc_client));
    fc_client_free(from_env);
    fc_client_free(c2);
    fc_client_free(c);
    fc_client_options_free(o);
}

static void test_spaces_and_folders(void) {
    fc_client *c = new_client(g_url, g_key, 0, 2);
    CHECK(c != NULL);
    if (!c) return;
    fc_error *err = NULL;
    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(c, &spaces, ERR));
    CHECK(spaces->len >= 1 && spaces->items != NULL);
    int has_default = 0;
    for (size_t i = 0; i < spaces->len; i++) has_default |= strcmp(spaces->items[i].name, "Default") == 0;
    CHECK(has_default);
    fc_space_list_free(spaces);

    fc_space *space = NULL;
    REQUIRE_OK(fc_spaces_create(c, "C folders", &space, ERR));
    CHECK(strlen(space->id) == 36 && strcmp(space->name, "C folders") == 0);
    CHECK(space->tenant_id != NULL && space->created_at != NULL);

    fc_folder *a = NULL, *b = NULL, *r = NULL;
    REQUIRE_OK(fc_folders_create(c, "alpha", space->id, NULL, &a, ERR));
    CHECK(strcmp(a->name, "alpha") == 0 && a->parent_id == NULL && strcmp(a->space_id, space->id) == 0);
    REQUIRE_OK(fc_folders_create(c, "beta", space->id, a->id, &b, ERR));
    CHECK(b->parent_id != NULL && strcmp(b->parent_id, a->id) == 0);

    fc_folder_list *list = NULL;
    REQUIRE_OK(fc_folders_list(c, space->id, NULL, false, &list, ERR));
    CHECK(list->len == 1 && strcmp(list->items[0].id, a->id) == 0);
    fc_folder_list_free(list);
    REQUIRE_OK(fc_folders_list(c, space->id, a->id, false, &list, ERR));
    CHECK(list->len == 1 && strcmp(list->items[0].name, "beta") == 0);
    fc_folder_list_free(list);

    REQUIRE_OK(fc_folders_rename(c, b->id, "gamma", &r, ERR));
    CHECK(strcmp(r->name, "gamma") == 0);
    fc_folder_free(r);
    REQUIRE_OK(fc_folders_move(c, b->id, NULL, &r, ERR)); /* NULL: to the space root */
    CHECK(r->parent_id == NULL);
    fc_folder_free(r);
    REQUIRE_OK(fc_folders_move(c, b->id, a->id, &r, ERR));
    CHECK(r->parent_id != NULL && strcmp(r->parent_id, a->id) == 0);
    fc_folder_free(r);

    /* 409: a sibling of the same name, with detail and request id */
    fc_folder *dup = SENT(fc_folder);
    EXPECT_FAILURE(fc_folders_create(c, "alpha", space->id, NULL, &dup, &err), err, FC_ERR_CONFLICT, 409, NULL, 1);
    err = NULL;
    /* 422: an invalid name gives FC_ERR_API with the validation list as detail */
    EXPECT_FAILURE(fc_folders_create(c, "a/b", space->id, NULL, &dup, &err), err, FC_ERR_API, 422, "[", 1);
    err = NULL;
    /* 400: a move into its own subtree */
    EXPECT_FAILURE(fc_folders_move(c, a->id, b->id, &dup, &err), err, FC_ERR_API, 400, NULL, 1);
    err = NULL;
    /* the core's own argument checks: empty name */
    EXPECT_FAILURE(fc_folders_create(c, "", space->id, NULL, &dup, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    CHECK(dup == SENT(fc_folder));

    REQUIRE_OK(fc_folders_delete(c, a->id, &r, ERR));
    CHECK(r->deleted_at != NULL);
    fc_folder_free(r);
    REQUIRE_OK(fc_folders_list(c, space->id, NULL, true, &list, ERR));
    CHECK(list->len == 1 && strcmp(list->items[0].id, a->id) == 0);
    fc_folder_list_free(list);
    REQUIRE_OK(fc_folders_list(c, space->id, NULL, false, &list, ERR));
    CHECK(list->len == 0 && list->items == NULL);
    fc_folder_list_free(list);
    REQUIRE_OK(fc_folders_restore(c, a->id, &r, ERR));
    CHECK(r->deleted_at == NULL);
    fc_folder_free(r);

    /* 404 with a request id */
    EXPECT_FAILURE(fc_folders_rename(c, "00000000-0000-4000-8000-00000000beef", "x", &dup, &err), err,
                   FC_ERR_NOT_FOUND, 404, NULL, 1);
    err = NULL;
    fc_folder_free(a);
    fc_folder_free(b);
    fc_space_free(space);
    fc_client_free(c);
}

/* Multipart from a path with every option, progress, then every file, link and share call. */
static void test_upload_path_multipart_and_file_calls(void) {
    fc_client *c = new_client(g_url, g_key, 0, 2);
    CHECK(c != NULL);
    if (!c) return;
    fc_error *err = NULL;
    size_t size = g_part_size * 4 + 1000; /* five parts */
    char *path = make_file("multipart.bin", size, 3);
    CHECK(path != NULL);
    if (!path) return;
    fc_space *space = NULL;
    fc_folder *folder = NULL;
    REQUIRE_OK(fc_spaces_create(c, "C files", &space, ERR));
    REQUIRE_OK(fc_folders_create(c, "docs", space->id, NULL, &folder, ERR));

    progress_t p;
    progress_init(&p);
    fc_upload_options *o = NULL;
    REQUIRE_OK(fc_upload_options_new("placeholder", &o));
    CHECK(fc_upload_options_set_space_id(o, space->id) == FC_OK);
    CHECK(fc_upload_options_set_folder_id(o, folder->id) == FC_OK);
    CHECK(fc_upload_options_set_name(o, "report.bin") == FC_OK);
    CHECK(fc_upload_options_set_content_type(o, "application/x-test") == FC_OK);
    CHECK(fc_upload_options_set_app(o, "ctest") == FC_OK);
    CHECK(fc_upload_options_set_client_key(o, "report-1") == FC_OK);
    CHECK(fc_upload_options_set_public(o, true) == FC_OK);
    CHECK(fc_upload_options_set_progress(o, on_progress, &p) == FC_OK);

    fc_file *f = NULL;
    REQUIRE_OK(fc_files_upload_path(c, path, o, &f, ERR));
    CHECK(strcmp(f->original_name, "report.bin") == 0);
    CHECK(f->size == (int64_t)size);
    CHECK(f->sha256 != NULL && strlen(f->sha256) == 64);
    CHECK(f->mime != NULL && strcmp(f->mime, "application/x-test") == 0);
    CHECK(f->folder_id != NULL && strcmp(f->folder_id, folder->id) == 0);
    CHECK(f->source_app != NULL && strcmp(f->source_app, "ctest") == 0);
    CHECK(f->client_key != NULL && strcmp(f->client_key, "report-1") == 0);
    CHECK(f->public_url != NULL && strncmp(f->public_url, "http", 4) == 0);
    CHECK(f->deleted_at == NULL);
    /* progress: several calls (one per part at least), from the SDK's threads, monotonic,
       0 first and the total last */
    CHECK(p.calls >= 5);
    CHECK(!p.backwards && !p.total_changed);
    CHECK(p.last == size && p.total == size);
    CHECK(p.on_other_thread);
    progress_destroy(&p);

    /* get, resolve, list (with the app filter) */
    fc_file *g = NULL;
    REQUIRE_OK(fc_files_get(c, f->id, &g, ERR));
    CHECK(strcmp(g->id, f->id) == 0 && strcmp(g->sha256, f->sha256) == 0 && g->public_url == NULL);
    CHECK(g->status != NULL && g->scan_status != NULL && strcmp(g->scan_status, "clean") == 0);
    fc_file_free(g);
    REQUIRE_OK(fc_files_resolve(c, "report-1", "ctest", &g, ERR));
    CHECK(strcmp(g->id, f->id) == 0);
    fc_file_free(g);
    fc_file *none = SENT(fc_file);
    EXPECT_FAILURE(fc_files_resolve(c, "report-1", NULL, &none, &err), err, FC_ERR_NOT_FOUND, 404, NULL, 1);
    err = NULL;
    fc_file_list *files = NULL;
    REQUIRE_OK(fc_files_list(c, space->id, folder->id, false, "ctest", &files, ERR));
    CHECK(files->len == 1 && strcmp(files->items[0].id, f->id) == 0 && files->items[0].size == (int64_t)size);
    fc_file_list_free(files);
    REQUIRE_OK(fc_files_list(c, space->id, NULL, false, NULL, &files, ERR));
    CHECK(files->len == 0);
    fc_file_list_free(files);

    /* rename, move to root and back */
    REQUIRE_OK(fc_files_rename(c, f->id, "renamed.bin", &g, ERR));
    CHECK(strcmp(g->original_name, "renamed.bin") == 0);
    fc_file_free(g);
    REQUIRE_OK(fc_files_move(c, f->id, NULL, &g, ERR));
    CHECK(g->folder_id == NULL);
    fc_file_free(g);
    REQUIRE_OK(fc_files_move(c, f->id, folder->id, &g, ERR));
    CHECK(g->folder_id != NULL && strcmp(g->folder_id, folder->id) == 0);
    fc_file_free(g);

    /* download with progress, verified, and compared byte for byte */
    char *dest = NULL;
    if (asprintf(&dest, "%s/downloaded.bin", g_tmp) < 0) dest = NULL;
    progress_t dp;
    progress_init(&dp);
    REQUIRE_OK(fc_files_download(c, f->id, dest, on_progress, &dp, NULL, &g, ERR));
    CHECK(g->size == (int64_t)size);
    fc_file_free(g);
    CHECK(dp.calls >= 2 && dp.last == size && !dp.backwards);
    progress_destroy(&dp);
    size_t orig_len = 0;
    unsigned char *orig = read_file(path, &orig_len);
    CHECK(orig != NULL && orig_len == size && file_equals(dest, orig, size));
    free(orig);
    /* a download cancelled before it starts, and one to a directory that does not exist */
    fc_cancel *cancel = NULL;
    REQUIRE_OK(fc_cancel_new(&cancel));
    CHECK(!fc_cancel_is_triggered(cancel));
    CHECK(fc_cancel_trigger(cancel) == FC_OK);
    CHECK(fc_cancel_trigger(cancel) == FC_OK);
    CHECK(fc_cancel_is_triggered(cancel));
    EXPECT_FAILURE(fc_files_download(c, f->id, dest, NULL, NULL, cancel, &none, &err), err, FC_ERR_CANCELLED, 0, NULL, 0);
    err = NULL;
    fc_cancel_free(cancel);
    EXPECT_FAILURE(fc_files_download(c, f->id, "/nonexistent-dir/x.bin", NULL, NULL, NULL, &none, &err), err,
                   FC_ERR_IO, 0, NULL, 0);
    err = NULL;

    /* links */
    fc_download_url *du = NULL;
    REQUIRE_OK(fc_files_download_url(c, f->id, &du, ERR));
    CHECK(strncmp(du->url, "http", 4) == 0 && du->expires_at != NULL);
    fc_download_url_free(du);
    fc_link *pub = NULL, *signed_view = NULL, *signed_dl = NULL;
    REQUIRE_OK(fc_files_public_url(c, f->id, &pub, ERR));
    CHECK(strcmp(pub->url, f->public_url) == 0 && pub->expires_at == NULL && strcmp(pub->permission, "view") == 0);
    REQUIRE_OK(fc_files_signed_url(c, f->id, 7, FC_PERMISSION_VIEW, &signed_view, ERR));
    CHECK(signed_view->expires_at != NULL && strcmp(signed_view->permission, "view") == 0);
    REQUIRE_OK(fc_files_signed_url(c, f->id, 365, FC_PERMISSION_DOWNLOAD, &signed_dl, ERR));
    CHECK(strcmp(signed_dl->permission, "download") == 0 && strcmp(signed_dl->url, signed_view->url) != 0);
    fc_link *bad_link = SENT(fc_link);
    /* the server judges the range: 422 naming the field */
    EXPECT_FAILURE(fc_files_signed_url(c, f->id, 0, FC_PERMISSION_VIEW, &bad_link, &err), err,
                   FC_ERR_API, 422, "expires_in_days", 1);
    err = NULL;
    EXPECT_FAILURE(fc_files_signed_url(c, f->id, 1, 7, &bad_link, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    CHECK(bad_link == SENT(fc_link));

    /* shares: list, revoke (twice), include_inactive */
    fc_share_list *shares = NULL;
    REQUIRE_OK(fc_shares_list(c, f->id, false, &shares, ERR));
    CHECK(shares->len == 3);
    int found_pub = 0;
    for (size_t i = 0; i < shares->len; i++) {
        const fc_share *s = &shares->items[i];
        CHECK(strcmp(s->file_id, f->id) == 0 && !s->revoked && s->download_count >= 0);
        CHECK(s->max_downloads == -1 || s->max_downloads > 0);
        if (strcmp(s->id, pub->id) == 0) found_pub = s->expires_at == NULL;
    }
    CHECK(found_pub);
    fc_share_list_free(shares);
    REQUIRE_OK(fc_shares_revoke(c, signed_view->id, ERR));
    REQUIRE_OK(fc_shares_revoke(c, signed_view->id, ERR));
    REQUIRE_OK(fc_shares_list(c, f->id, false, &shares, ERR));
    CHECK(shares->len == 2);
    fc_share_list_free(shares);
    REQUIRE_OK(fc_shares_list(c, NULL, true, &shares, ERR));
    int revoked = 0;
    for (size_t i = 0; i < shares->len; i++) revoked += strcmp(shares->items[i].id, signed_view->id) == 0 && shares->items[i].revoked;
    CHECK(revoked == 1);
    fc_share_list_free(shares);
    EXPECT_FAILURE(fc_shares_revoke(c, "00000000-0000-4000-8000-00000000beef", &err), err, FC_ERR_NOT_FOUND, 404, NULL, 1);
    err = NULL;

    /* trash and restore */
    REQUIRE_OK(fc_files_delete(c, f->id, &g, ERR));
    CHECK(g->deleted_at != NULL);
    fc_file_free(g);
    REQUIRE_OK(fc_files_list(c, space->id, folder->id, true, NULL, &files, ERR));
    CHECK(files->len == 1);
    fc_file_list_free(files);
    EXPECT_FAILURE(fc_files_rename(c, f->id, "x", &none, &err), err, FC_ERR_CONFLICT, 409, NULL, 1);
    err = NULL;
    REQUIRE_OK(fc_files_restore(c, f->id, &g, ERR));
    CHECK(g->deleted_at == NULL);
    fc_file_free(g);
    CHECK(none == SENT(fc_file));

    fc_link_free(pub);
    fc_link_free(signed_view);
    fc_link_free(signed_dl);
    fc_file_free(f);
    fc_upload_options_free(o);
    fc_folder_free(folder);
    fc_space_free(space);
    fc_client_free(c);
    unlink(dest);
    free(dest);
    unlink(path);
    free(path);
}

/* Multipart from a buffer with progress; the buffer may be freed right after the call; an
   empty buffer (NULL, 0); the name and type defaults. */
static void test_upload_buffer_multipart(void) {
    fc_client *c = new_client(g_url, g_key, 0, 2);
    CHECK(c != NULL);
    if (!c) return;
    size_t size = g_part_size * 2 + 12345; /* three parts */
    unsigned char *data = make_buffer(size, 9);
    unsigned char *copy = malloc(size);
    memcpy(copy, data, size);
    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(c, &spaces, ERR));
    fc_upload_options *o = NULL;
    REQUIRE_OK(fc_upload_options_new(spaces->items[0].id, &o));
    progress_t p;
    progress_init(&p);
    CHECK(fc_upload_options_set_progress(o, on_progress, &p) == FC_OK);
    fc_file *f = NULL;
    REQUIRE_OK(fc_files_upload_buffer(c, data, size, o, &f, ERR));
    free(data); /* copied by the call */
    CHECK(strcmp(f->original_name, "upload.bin") == 0);
    CHECK(f->mime != NULL && strcmp(f->mime, "application/octet-stream") == 0);
    CHECK(f->size == (int64_t)size && f->public_url == NULL && f->folder_id == NULL);
    CHECK(p.calls >= 3 && p.last == size && p.total == size && !p.backwards && p.on_other_thread);
    progress_destroy(&p);

    char *dest = NULL;
    if (asprintf(&dest, "%s/buffer.bin", g_tmp) < 0) dest = NULL;
    fc_file *g = NULL;
    REQUIRE_OK(fc_files_download(c, f->id, dest, NULL, NULL, NULL, &g, ERR));
    CHECK(file_equals(dest, copy, size));
    fc_file_free(g);
    unlink(dest);
    free(dest);
    free(copy);
    fc_file_free(f);

    /* (NULL, 0) is an empty upload; the name decides the type */
    CHECK(fc_upload_options_set_progress(o, NULL, NULL) == FC_OK);
    CHECK(fc_upload_options_set_name(o, "empty.txt") == FC_OK);
    REQUIRE_OK(fc_files_upload_buffer(c, NULL, 0, o, &f, ERR));
    CHECK(f->size == 0 && strcmp(f->original_name, "empty.txt") == 0 && strcmp(f->mime, "text/plain") == 0);
    fc_file_free(f);
    fc_upload_options_free(o);
    fc_space_list_free(spaces);
    fc_client_free(c);
}

/* Every status code the service or the machine can produce, with its details. */
static void test_error_codes(void) {
    fc_error *err = NULL;
    fc_space *sp = SENT(fc_space);
    fc_file *fi = SENT(fc_file);
    fc_space_list *sl = SENT(fc_space_list);

    /* 401 */
    fc_client *bad_key = new_client(g_url, "fck_test_no_such_key", 0, 0);
    CHECK(bad_key != NULL);
    EXPECT_FAILURE(fc_spaces_list(bad_key, &sl, &err), err, FC_ERR_AUTH, 401, NULL, 1);
    err = NULL;
    fc_client_free(bad_key);

    /* 403, with the missing scope in the detail */
    fc_client *ro = new_client(g_url, g_key_readonly, 0, 0);
    CHECK(ro != NULL);
    fc_space_list *ro_spaces = NULL;
    REQUIRE_OK(fc_spaces_list(ro, &ro_spaces, ERR));
    fc_space_list_free(ro_spaces);
    EXPECT_FAILURE(fc_spaces_create(ro, "nope", &sp, &err), err, FC_ERR_PERMISSION, 403, "insufficient_scope", 1);
    err = NULL;
    EXPECT_FAILURE(fc_spaces_create(ro, "nope", &sp, &err), err, FC_ERR_PERMISSION, 403, "spaces:write", 1);
    err = NULL;
    fc_client_free(ro);

    /* 402, the detail a JSON string */
    fc_client *small = new_client(g_url, g_key_small, 0, 0);
    CHECK(small != NULL);
    fc_space_list *small_spaces = NULL;
    REQUIRE_OK(fc_spaces_list(small, &small_spaces, ERR));
    fc_upload_options *o = NULL;
    REQUIRE_OK(fc_upload_options_new(small_spaces->items[0].id, &o));
    unsigned char *big = make_buffer(4096, 1);
    EXPECT_FAILURE(fc_files_upload_buffer(small, big, 4096, o, &fi, &err), err, FC_ERR_QUOTA, 402, "\"quota_exceeded\"", 1);
    err = NULL;
    free(big);
    fc_upload_options_free(o);
    fc_space_list_free(small_spaces);
    fc_client_free(small);

    fc_client *c = new_client(g_url, g_key, 0, 0);
    CHECK(c != NULL);
    if (!c) return;
    /* 404 */
    EXPECT_FAILURE(fc_files_get(c, "00000000-0000-4000-8000-00000000beef", &fi, &err), err, FC_ERR_NOT_FOUND, 404, NULL, 1);
    err = NULL;
    /* a path ID cannot escape its segment */
    EXPECT_FAILURE(fc_files_get(c, "../spaces", &fi, &err), err, FC_ERR_NOT_FOUND, 404, NULL, 1);
    err = NULL;
    /* 422 -> FC_ERR_API */
    EXPECT_FAILURE(fc_spaces_create(c, "..", &sp, &err), err, FC_ERR_API, 422, "[", 1);
    err = NULL;
    /* the core's argument checks */
    EXPECT_FAILURE(fc_spaces_create(c, "", &sp, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;
    EXPECT_FAILURE(fc_files_get(c, "", &fi, &err), err, FC_ERR_INVALID_ARGUMENT, 0, NULL, 0);
    err = NULL;

    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(c, &spaces, ERR));
    const char *space_id = spaces->items[0].id;
    REQUIRE_OK(fc_upload_options_new(space_id, &o));

    /* I/O: a path that does not exist */
    EXPECT_FAILURE(fc_files_upload_path(c, "/nonexistent/file.bin", o, &fi, &err), err, FC_ERR_IO, 0, NULL, 0);
    err = NULL;

    /* integrity: the file grows once the upload started */
    char *grow = make_file("grows.bin", 3000, 5);
    progress_t p;
    progress_init(&p);
    p.append_to = grow;
    CHECK(fc_upload_options_set_progress(o, on_progress, &p) == FC_OK);
    EXPECT_FAILURE(fc_files_upload_path(c, grow, o, &fi, &err), err, FC_ERR_INTEGRITY, 0, NULL, 0);
    err = NULL;
    CHECK(p.calls >= 1);
    progress_destroy(&p);
    CHECK(fc_upload_options_set_progress(o, NULL, NULL) == FC_OK);
    unlink(grow);
    free(grow);

    /* cancelled before it starts */
    fc_cancel *cancel = NULL;
    REQUIRE_OK(fc_cancel_new(&cancel));
    CHECK(fc_upload_options_set_cancel(o, cancel) == FC_OK);
    fc_cancel_trigger(cancel);
    fc_cancel_free(cancel); /* the options keep their own reference */
    unsigned char small_buf[16] = {0};
    EXPECT_FAILURE(fc_files_upload_buffer(c, small_buf, sizeof small_buf, o, &fi, &err), err, FC_ERR_CANCELLED, 0, NULL, 0);
    err = NULL;
    fc_upload_options_free(o);
    fc_space_list_free(spaces);

    /* conflict: sharing a file whose scan found the EICAR string */
    const char *eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    REQUIRE_OK(fc_spaces_list(c, &spaces, ERR));
    REQUIRE_OK(fc_upload_options_new(spaces->items[0].id, &o));
    fc_file *infected = NULL;
    REQUIRE_OK(fc_files_upload_buffer(c, (const uint8_t *)eicar, strlen(eicar), o, &infected, ERR));
    CHECK(strcmp(infected->scan_status, "infected") == 0);
    fc_link *li = SENT(fc_link);
    EXPECT_FAILURE(fc_files_public_url(c, infected->id, &li, &err), err, FC_ERR_CONFLICT, 409, NULL, 1);
    err = NULL;
    CHECK(li == SENT(fc_link));
    fc_file_free(infected);
    fc_upload_options_free(o);
    fc_space_list_free(spaces);
    fc_client_free(c);

    /* timeout: the emulator delays this ID (a fault rule set by run.sh) past the timeout */
    fc_client *impatient = new_client(g_url, g_key, 300, 0);
    CHECK(impatient != NULL);
    EXPECT_FAILURE(fc_files_get(impatient, g_delay_id, &fi, &err), err, FC_ERR_TIMEOUT, 0, NULL, 0);
    err = NULL;
    fc_client_free(impatient);

    /* transport: nothing listens there */
    fc_client *nowhere = new_client("http://127.0.0.1:1", g_key, 0, 0);
    CHECK(nowhere != NULL);
    EXPECT_FAILURE(fc_spaces_list(nowhere, &sl, &err), err, FC_ERR_CONNECT, 0, NULL, 0);
    err = NULL;
    fc_client_free(nowhere);

    /* without an err out-parameter, the status alone */
    fc_client *c2 = new_client(g_url, g_key, 0, 0);
    CHECK(fc_files_get(c2, "00000000-0000-4000-8000-00000000beef", &fi, NULL) == FC_ERR_NOT_FOUND);
    fc_client_free(c2);
    CHECK(sp == SENT(fc_space) && fi == SENT(fc_file) && sl == SENT(fc_space_list));
}

typedef struct {
    progress_t *progress;
    fc_cancel *cancel;
    double triggered_at;
} canceller_t;

static void *canceller(void *arg) {
    canceller_t *c = arg;
    pthread_mutex_lock(&c->progress->mu);
    while (!c->progress->started) pthread_cond_wait(&c->progress->cv, &c->progress->mu);
    pthread_mutex_unlock(&c->progress->mu);
    usleep(300 * 1000); /* let the parts get going */
    c->triggered_at = now_s();
    fc_cancel_trigger(c->cancel);
    return NULL;
}

/* An upload to a throttled emulator, cancelled from a second thread mid-way. */
static void test_cancel_from_another_thread(void) {
    fc_client *c = new_client(g_slow_url, g_key, 0, 2);
    CHECK(c != NULL);
    if (!c) return;
    fc_error *err = NULL;
    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(c, &spaces, ERR));
    fc_upload_options *o = NULL;
    REQUIRE_OK(fc_upload_options_new(spaces->items[0].id, &o));
    fc_cancel *cancel = NULL;
    REQUIRE_OK(fc_cancel_new(&cancel));
    progress_t p;
    progress_init(&p);
    CHECK(fc_upload_options_set_progress(o, on_progress, &p) == FC_OK);
    CHECK(fc_upload_options_set_cancel(o, cancel) == FC_OK);
    size_t size = g_part_size * 16; /* 16 parts at a few KiB/s each: minutes, uncancelled */
    unsigned char *data = make_buffer(size, 4);
    canceller_t ctx = {&p, cancel, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, canceller, &ctx) == 0);
    fc_file *f = SENT(fc_file);
    fc_status s = fc_files_upload_buffer(c, data, size, o, &f, &err);
    double returned_at = now_s();
    pthread_join(t, NULL);
    EXPECT_FAILURE(s, err, FC_ERR_CANCELLED, 0, NULL, 0);
    err = NULL;
    CHECK(f == SENT(fc_file));
    CHECK(fc_cancel_is_triggered(cancel));
    CHECK(p.last < size);
    /* it stopped soon after the trigger, not when the bytes were through */
    CHECK(returned_at - ctx.triggered_at < 10.0);
    progress_destroy(&p);
    free(data);
    fc_cancel_free(cancel);
    fc_upload_options_free(o);
    fc_space_list_free(spaces);
    fc_client_free(c);
}

static void test_quota_and_tokens(void) {
    fc_client *c = new_client(g_url, g_key, 0, 2);
    CHECK(c != NULL);
    if (!c) return;
    fc_error *err = NULL;
    fc_quota *q = NULL;
    REQUIRE_OK(fc_quota_usage(c, &q, ERR));
    CHECK(q->bytes_used > 0 && q->bytes_limit > q->bytes_used);
    CHECK(q->links_used >= 1 && q->links_limit > 0);
    CHECK(q->by_app_len == 0 || q->by_app != NULL);
    int saw_ctest = 0;
    for (size_t i = 0; i < q->by_app_len; i++) {
        if (q->by_app[i].app && strcmp(q->by_app[i].app, "ctest") == 0) saw_ctest = q->by_app[i].files >= 1;
    }
    CHECK(saw_ctest);
    fc_quota_free(q);

    fc_token *t = NULL;
    REQUIRE_OK(fc_client_exchange_service_token(c, g_jwt, "ctest", NULL, 0, &t, ERR));
    CHECK(strncmp(t->token, "fcd_", 4) == 0 && t->expires_in == 3600 && strcmp(t->token_type, "Bearer") == 0);
    CHECK(t->user_id != NULL && strcmp(t->app, "ctest") == 0 && t->tenant_id != NULL);
    fc_token_free(t);
    REQUIRE_OK(fc_client_exchange_service_token(c, g_jwt, "ctest", "job-1", 120, &t, ERR));
    CHECK(t->expires_in == 120);
    fc_token_free(t);
    fc_token *bad = SENT(fc_token);
    EXPECT_FAILURE(fc_client_exchange_service_token(c, "not.a.jwt", "ctest", NULL, 0, &bad, &err), err, FC_ERR_AUTH, 401,
                   "invalid user_jwt", 1);
    err = NULL;
    EXPECT_FAILURE(fc_client_exchange_service_token(c, g_jwt, "ctest", NULL, 5, &bad, &err), err, FC_ERR_API, 422, "ttl", 1);
    err = NULL;
    CHECK(bad == SENT(fc_token));

    /* a client acting as the user: its own tenant, tagged with the app; outlives its parent */
    fc_client *user = NULL;
    REQUIRE_OK(fc_client_as_user(c, g_jwt, "ctest", NULL, 0, &user, ERR));
    fc_client_free(c);
    fc_space_list *spaces = NULL;
    REQUIRE_OK(fc_spaces_list(user, &spaces, ERR));
    CHECK(spaces->len >= 1);
    fc_upload_options *o = NULL;
    REQUIRE_OK(fc_upload_options_new(spaces->items[0].id, &o));
    fc_file *f = NULL;
    REQUIRE_OK(fc_files_upload_buffer(user, (const uint8_t *)"hi", 2, o, &f, ERR));
    CHECK(f->source_app != NULL && strcmp(f->source_app, "ctest") == 0);
    fc_file_free(f);
    fc_upload_options_free(o);
    fc_space_list_free(spaces);
    fc_client_free(user);
}

static void *hammer(void *arg) {
    fc_client *c = arg;
    intptr_t failures = 0;
    for (int i = 0; i < 5; i++) {
        fc_space_list *s = NULL;
        fc_quota *q = NULL;
        if (fc_spaces_list(c, &s, NULL) != FC_OK) failures++;
        if (fc_quota_usage(c, &q, NULL) != FC_OK) failures++;
        fc_space_list_free(s);
        fc_quota_free(q);
    }
    return (void *)failures;
}

/* One client shared by several threads at once. */
static void test_one_client_many_threads(void) {
    fc_client *c = new_client(g_url, g_key, 0, 2);
    CHECK(c != NULL);
    if (!c) return;
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&threads[i], NULL, hammer, c) == 0);
    for (int i = 0; i < 4; i++) {
        void *failures = NULL;
        pthread_join(threads[i], &failures);
        CHECK(failures == NULL);
    }
    fc_client_free(c);
}

int main(void) {
    g_url = env("FC_TEST_BASE_URL");
    g_key = env("FC_TEST_API_KEY");
    g_key_readonly = env("FC_TEST_KEY_READONLY");
    g_key_small = env("FC_TEST_KEY_SMALL");
    g_slow_url = env("FC_TEST_SLOW_BASE_URL");
    g_jwt = env("FC_TEST_USER_JWT");
    g_delay_id = env("FC_TEST_DELAYED_ID");
    g_tmp = env("FC_TEST_TMPDIR");
    g_part_size = (size_t)strtoull(env("FC_TEST_PART_SIZE"), NULL, 10);
    unsetenv("FLUIDCLOUD_API_KEY");
    unsetenv("FLUIDCLOUD_BASE_URL");

    run("version and status names", test_version_and_status_names);
    run("NULL in every pointer parameter", test_null_everywhere);
    run("client options and construction", test_client_options_and_construction);
    run("spaces and folders", test_spaces_and_folders);
    run("multipart upload from a path, file, link and share calls", test_upload_path_multipart_and_file_calls);
    run("multipart upload from a buffer", test_upload_buffer_multipart);
    run("every error code with its details", test_error_codes);
    run("upload cancelled from another thread", test_cancel_from_another_thread);
    run("quota and delegation tokens", test_quota_and_tokens);
    run("one client, many threads", test_one_client_many_threads);

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
