/* util — clocks, identifiers and encodings shared by every part. */
#ifndef BARGE_UTIL_H
#define BARGE_UTIL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

int64_t util_now_ms(void);      /* wall clock, epoch milliseconds */
int64_t util_mono_ms(void);     /* monotonic clock, for timers */
/* Makes cv a condition variable whose timed waits are on the monotonic clock, with deadlines
 * from util_mono_deadline: a step of the wall clock (NTP, an operator) neither stalls nor
 * hurries them; an hour back stalled the lease's renewal and the core's timers for an hour. */
void util_cond_init_mono(pthread_cond_t *cv);
/* The monotonic time ms milliseconds from now, for pthread_cond_timedwait on such a cv. */
struct timespec util_mono_deadline(int64_t ms);
int64_t util_mono_us(void);     /* the same in microseconds, for measuring short work */
/* Lowers the calling thread's CPU priority by steps (Linux keeps a nice value per thread), for
 * work that should take what the API leaves of the CPUs rather than compete with it; never
 * starved, since the scheduler still gives a niced thread its share by weight.  0, or -1. */
int util_thread_nice(int steps);
/* secs (epoch seconds) as ISO 8601 in UTC to the second, "2026-12-02T03:08:38Z": the form of
 * AWS's event times, audit records and credential expirations. */
#define UTIL_ISO_TIME_LEN 21
void util_iso_time(int64_t secs, char out[UTIL_ISO_TIME_LEN]);
void util_uuid(char out[37]);   /* random version-4 UUID */
/* 32 hex digits: the time in ms, then 80 random bits.  Ids made one after another sort one after
 * another, so that as keys of an index they go in at its end rather than at random places. */
void util_sorted_id(char out[33]);
/* Lower-case hex of n bytes into out (2n+1 bytes).  */
void util_hex(const void *p, size_t n, char *out);
/* Decodes hex into a fresh string; NULL if s is not even-length hex or holds a zero byte. */
char *util_unhex(const char *s);
/* Decodes exactly n bytes (any value, digests included) from 2n hex digits; -1 otherwise. */
int util_unhex_bytes(const char *s, void *out, size_t n);
/* The n bytes at p in standard base64 with padding (RFC 4648), as HTTP's basic authentication
 * and registries' auth files carry "user:password"; fresh, NUL-terminated. */
char *util_base64(const void *p, size_t n);
/* Replaces, in place, every byte of s that is not part of a well-formed UTF-8 sequence with '?'.
 * Error messages echo request text and are cut by bounded printfs, which can leave half a
 * character; JSON strings must be valid UTF-8. */
void util_utf8_scrub(char *s);
/* The same, after ending s before a character its end holds only part of (what a bounded printf
 * leaves when it cuts inside one), which would otherwise end in '?'s. */
void util_utf8_cut(char *s);
/* A copy of the len bytes at s (NULs kept) in which every byte that is not part of a
 * well-formed UTF-8 sequence is U+FFFD, as the awslogs driver ships a container's output;
 * *out_len its length.  Fresh, NUL-terminated. */
char *util_utf8_repair(const char *s, size_t len, size_t *out_len);
/* The length of the well-formed UTF-8 sequence at p (1 to 4), or 0 (what jansson refuses). */
size_t util_utf8_len(const unsigned char *p);
/* The number of characters (code points) in s, as AWS counts the lengths of tag keys and values;
 * a byte that is not part of a well-formed sequence counts as one. */
size_t util_utf8_chars(const char *s);
/* A signal as images name their STOPSIGNAL and Docker reads it: a number ("2"), or a name with or
 * without "SIG", in any case ("SIGINT", "int"), or a real-time one ("SIGRTMIN+3", "RTMAX-1").
 * The signal's number, or -1 for what names none. */
int util_signal_parse(const char *s);
/* Raises the soft open-file limit to the hard one, at most 65,536 (a server's connections, an
 * agent's attempts' pipes); returns the soft limit now (1,024 when it cannot be read). */
long util_raise_open_files(void);
/* Instance ids (docs/agent-protocol.md): 1 to UTIL_INSTANCE_ID_MAX letters, digits, '-', '_'
 * and '.' (EC2's "i-" and 17 hex digits fit); checked by the server and by an agent given one. */
#define UTIL_INSTANCE_ID_MAX 128
int util_instance_id_ok(const char *id);
/* Removes the directory tree at path, without following symbolic links (not even one swapped
 * in for a directory while the tree goes: each step is made through descriptors) or crossing
 * into other mounts; directories made unwritable inside it are opened up first.  Best effort:
 * what cannot be removed stays, and so does what is nested deeper than 2,048 directories. */
void util_remove_tree(const char *path);
/* mkdir -p with mode for the directories it makes: 1 if it created the last one, 0 if that
 * existed, -1 with errno on failure. */
int util_make_dirs(const char *path, unsigned mode);
/* Whether pid is a live process: a zombie (a process that died and that its parent has not
 * reaped yet) is not. */
int util_process_alive(long pid);
/* The start time of process pid (field 22 of /proc/PID/stat, clock ticks since boot), which
 * tells a process from a later one that got the same pid; 0 when it is not running (a zombie
 * is not). */
unsigned long long util_process_start(long pid);
/* Which process ids this process sees: its host's boot (kernel.random.boot_id) and its pid
 * namespace, as "BOOT_ID/NAMESPACE_INODE" in out; -1 when /proc does not tell.  A pid noted
 * with another view names another host's process (or another namespace's), which
 * util_process_start cannot look at. */
#define UTIL_PID_VIEW_MAX 72
int util_pid_view(char out[UTIL_PID_VIEW_MAX]);
/* A whole file as a NUL-terminated string (allocated), or NULL with errno. */
char *util_read_file(const char *path);
/* Opens path for reading if it is a regular file.  A directory opens but reads nothing (it would
 * pass for an empty file), and a device, pipe or socket (/dev/zero) can be read without end:
 * both are refused.  NULL with *why a phrase for "OPTION PATH WHY" ("is a directory, not a
 * file", "cannot be read: No such file or directory"; static or thread-local text) when it
 * cannot be opened or is not a regular file. */
FILE *util_open_regular(const char *path, const char **why);
/* A file of secrets (keys, tokens) read whole: a regular file (as util_open_regular) of at most
 * max bytes, read with read(2) into one buffer sized from its fstat.  Neither a stdio buffer nor
 * a buffer that grows (getline, realloc, each freeing the copy it outgrew) ever holds any of it,
 * so util_secret_free's wipe leaves no copy behind.  Returns the text, NUL-terminated, its length
 * in *len and its permission bits in *mode (mode may be NULL); or NULL with *why a phrase for
 * "OPTION PATH WHY" (util_open_regular's, "is over 16 MiB, ...", "changed while it was read:
 * ..."). */
char *util_read_secret_file(const char *path, size_t max, size_t *len, unsigned *mode,
                            const char **why);
/* A bound for a file of keys or tokens: thousands of principals, session tokens included, fit
 * in a fraction of it. */
#define UTIL_SECRET_FILE_MAX ((size_t)16 << 20)
/* Wipes the len bytes at p, then frees it.  NULL does nothing. */
void util_secret_free(char *p, size_t len);
/* The next line of the text from *at to end (where the text's NUL is), in place: its newline
 * becomes a NUL, *len is its length (a NUL byte inside it makes strlen shorter), and *at moves
 * past it.  NULL once the text is read.  A last line without a newline is a line; a newline at
 * the very end starts none. */
char *util_next_line(char **at, char *end, size_t *len);
/* Why the first len bytes of url are not an http:// or https:// URL that libcurl can reach, or
 * NULL: a host (an IPv6 address in closed brackets), a port (if any) of 1 to 65535, and no space
 * or control character anywhere.  A phrase for "URL WHY". */
const char *util_http_url_problem(const char *url, size_t len);
/* A URL's scheme is case-insensitive (RFC 3986, 3.1), and barge compares "http://" and
 * "https://" as written: the length of url's http:// or https:// in any case (0 for neither),
 * and url with that scheme lowered in place, as URLs users give are taken in. */
size_t util_http_scheme_len(const char *url);
char *util_http_scheme_lower(char *url);
#endif
