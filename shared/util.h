/* util.h -- tiny helpers every module uses: allocation that aborts on
 * out-of-memory, countof, container_of. Nothing here can fail softly. */
#ifndef SHARED_UTIL_H
#define SHARED_UTIL_H

#include <stddef.h>

#define countof(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* malloc/calloc/realloc/strdup that never return NULL: running out of
 * memory aborts the process with a message (the only fatal error). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
