/* mem — allocation wrappers.  Out-of-memory policy: barge aborts with a message (as Redis does);
 * a half-applied change is worse than a restart, and the store makes restarts cheap. */
#ifndef BARGE_MEM_H
#define BARGE_MEM_H
#include <stddef.h>
#include <string.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* The first n bytes of s (all there: not strndup, which stops at a NUL), NUL-ended. */
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* MEM_HUGE_PAGE bytes or more from p: advice that the kernel back them with huge pages where it
 * has them (transparent huge pages); nothing for less, or where it has none.  A block written
 * fresh takes a page fault a 4 KiB page, and on some virtual machines each leaves the guest. */
#define MEM_HUGE_PAGE ((size_t)2 << 20)
void mem_advise_huge(void *p, size_t size);

/* A growable byte buffer; always NUL-terminated after any append. */
typedef struct buf {
    char *data;
    size_t len, cap;
} buf;
/* Room for n more bytes (and the NUL) without growing again. */
void buf_reserve(buf *b, size_t n);
/* Inline: JSON texts (answers, records, events) are written a few bytes at a time, and a
 * literal's length is then known where it is written rather than counted each time. */
static inline void buf_append(buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void buf_puts(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole number in decimal: what buf_printf("%lld") writes, at a fraction of its cost (event
 * and record texts write several each). */
void buf_int(buf *b, long long v);
void buf_free(buf *b);
#endif
