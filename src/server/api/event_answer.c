/* event_answer — see event_answer.h. */
#include "server/api/event_answer.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* Where event_answer_read is: the head, an event's framing before its text, its text, its end,
 * the tail, done. */
enum { AT_HEAD, AT_FRAME, AT_TEXT, AT_END, AT_TAIL, AT_DONE };

event_answer *event_answer_new(int sse, size_t max)
{
    event_answer *a = xcalloc(1, sizeof *a);
    a->sse = sse;
    a->items = xmalloc((max ? max : 1) * sizeof *a->items);
    return a;
}

void event_answer_add(event_answer *a, uint64_t seq, event_text *text)
{
    a->items[a->n++] = (event_item){.seq = seq, .text = text};
}

/* Writes s (n bytes) at p; the end. */
static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* The framing before item i's text, in a->frame. */
static size_t frame(event_answer *a, size_t i)
{
    static const char sse_id[] = "id: ", sse_data[] = "\nevent: Batch Job State Change\ndata: ";
    static const char js_first[] = "{\"seq\":", js_next[] = ",{\"seq\":", js_event[] = ",\"event\":";
    char digits[24], *d = digits + sizeof digits;
    uint64_t v = a->items[i].seq;
    do *--d = (char)('0' + v % 10);
    while (v /= 10);
    size_t nd = (size_t)(digits + sizeof digits - d);
    char *p = a->frame;
    if (a->sse) {
        p = put(p, sse_id, sizeof sse_id - 1);
        p = put(p, d, nd);
        p = put(p, sse_data, sizeof sse_data - 1);
    } else {
        p = i ? put(p, js_next, sizeof js_next - 1) : put(p, js_first, sizeof js_first - 1);
        p = put(p, d, nd);
        p = put(p, js_event, sizeof js_event - 1);
    }
    return (size_t)(p - a->frame);
}

/* Moves to the next piece; -1 when there is none. */
static int next_piece(event_answer *a)
{
    switch (a->stage) {
    case AT_HEAD:
        a->cur = a->head.data;
        a->cur_len = a->head.len;
        a->stage = AT_FRAME;
        return 0;
    case AT_FRAME:
        if (a->next_item == a->n) {
            a->cur = a->tail.data;
            a->cur_len = a->tail.len;
            a->stage = AT_TAIL;
            return 0;
        }
        a->cur_len = frame(a, a->next_item);
        a->cur = a->frame;
        a->stage = AT_TEXT;
        return 0;
    case AT_TEXT: {
        const event_text *t = a->items[a->next_item].text;
        a->cur = t->data;
        a->cur_len = t->len;
        a->stage = AT_END;
        return 0;
    }
    case AT_END:
        a->cur = a->sse ? "\n\n" : "}";
        a->cur_len = a->sse ? 2 : 1;
        a->next_item++;
        a->stage = AT_FRAME;
        return 0;
    case AT_TAIL:
        a->stage = AT_DONE;
        return -1;
    default:
        return -1;
    }
}

size_t event_answer_read(event_answer *a, char *out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        if (a->cur_len == 0) {
            if (next_piece(a) < 0) break;
            continue;
        }
        size_t k = a->cur_len < max - n ? a->cur_len : max - n;
        memcpy(out + n, a->cur, k);
        a->cur += k;
        a->cur_len -= k;
        n += k;
    }
    return n;
}

char *event_answer_text(event_answer *a, size_t *len)
{
    /* Sized before it is written: tens of kilobytes to megabytes, which grown by doubling would
     * be copied over and over.  Each event's framing is under 80 bytes. */
    size_t size = a->head.len + a->tail.len + 1;
    for (size_t i = 0; i < a->n; i++) size += a->items[i].text->len + sizeof a->frame;
    a->stage = AT_HEAD;
    a->next_item = 0;
    a->cur_len = 0;
    char *text = xmalloc(size);
    *len = event_answer_read(a, text, size - 1);
    text[*len] = '\0';
    return text;
}

void event_answer_free(void *p)
{
    event_answer *a = p;
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) event_text_drop(a->items[i].text);
    free(a->items);
    buf_free(&a->head);
    buf_free(&a->tail);
    free(a);
}
