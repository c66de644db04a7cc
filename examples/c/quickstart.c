/*
 * FluidCloud from C: create a space, upload a file with a permanent public link, print the
 * link. The key and origin come from FLUIDCLOUD_API_KEY / FLUIDCLOUD_BASE_URL.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs fluidcloud) -o quickstart
 *   ./quickstart [FILE]          (without FILE, uploads a small hello.txt from memory)
 */
#include <stdio.h>
#include <string.h>

#include "fluidcloud.h"

static int fail(const char *what, fc_status status, fc_error *err) {
    fprintf(stderr, "%s failed: %s: %s\n", what, fc_status_name(status),
            err ? fc_error_message(err) : "(no details)");
    if (err && fc_error_request_id(err)) fprintf(stderr, "request id: %s\n", fc_error_request_id(err));
    fc_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    fc_client *client = NULL;
    fc_space *space = NULL;
    fc_upload_options *options = NULL;
    fc_file *file = NULL;
    fc_error *err = NULL;
    fc_status status;
    int rc = 1;

    /* NULL options: every default, key and origin from the environment. */
    if ((status = fc_client_new(NULL, &client, &err)) != FC_OK) return fail("fc_client_new", status, err);

    if ((status = fc_spaces_create(client, "Brand Assets", &space, &err)) != FC_OK) {
        rc = fail("fc_spaces_create", status, err);
        goto done;
    }
    if ((status = fc_upload_options_new(space->id, &options)) != FC_OK) {
        rc = fail("fc_upload_options_new", status, NULL);
        goto done;
    }
    fc_upload_options_set_public(options, true);

    if (argc > 1) {
        status = fc_files_upload_path(client, argv[1], options, &file, &err);
    } else {
        const char *hello = "Hello from FluidCloud!\n";
        fc_upload_options_set_name(options, "hello.txt");
        status = fc_files_upload_buffer(client, (const uint8_t *)hello, strlen(hello), options, &file, &err);
    }
    if (status != FC_OK) {
        rc = fail("upload", status, err);
        goto done;
    }
    printf("%s\n", file->public_url);
    rc = 0;

done:
    fc_file_free(file);
    fc_upload_options_free(options);
    fc_space_free(space);
    fc_client_free(client);
    return rc;
}
