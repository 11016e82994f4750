/* upload.c -- INTERIM: the real streaming multipart receiver is being written
 * (issue 4). Until it lands every upload fails with a clear error. */
#include "upload.h"

#include <stdio.h>

enum upload_status upload_receive(const struct upload_config *cfg, const char *content_type,
                                  long long content_length, upload_read_fn read, void *ctx,
                                  struct upload_result *out, char *err, size_t errlen)
{
    (void)cfg, (void)content_type, (void)content_length, (void)read, (void)ctx, (void)out;
    snprintf(err, errlen, "uploads are not available yet");
    return UPLOAD_IO_ERROR;
}
