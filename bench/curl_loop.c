/* The raw baseline of the pipeline rows in bench/goals_bench.lua: one libcurl
 * easy handle, keep-alive, the same request again and again for a while.
 *
 *   curl_loop SECONDS URL [METHOD [BODY [HEADER...]]]
 *   curl_loop nCOUNT URL ...     (COUNT requests, a multiple of 10: for
 *                                 counting instructions under callgrind)
 *
 * An empty BODY is no body (a GET stays a GET).
 * Prints "<requests> <seconds>" (wall clock). Every answer must be HTTP 200
 * with a body, else it exits 1. The body is received into a reused buffer
 * and not decoded. Built by tools/bench.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    buf *b = (buf *)ud;
    size_t n = size * nmemb;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        char *p;
        while (cap < b->len + n)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds, t0, t;
    const char *method = argc > 3 ? argv[3] : "GET";
    const char *body = argc > 4 && argv[4][0] != '\0' ? argv[4] : NULL;
    long count = -1;
    struct curl_slist *hdrs = NULL;
    buf b = { NULL, 0, 0 };
    long n = 0, status = 0;
    CURL *c;
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: curl_loop SECONDS URL [METHOD [BODY [HEADER...]]]\n");
        return 2;
    }
    if (argv[1][0] == 'n')
        count = atol(argv[1] + 1);
    seconds = count >= 0 ? 0 : atof(argv[1]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c = curl_easy_init();
    if (c == NULL)
        return 1;
    for (i = 5; i < argc; i++)
        hdrs = curl_slist_append(hdrs, argv[i]);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, argv[2]);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)&b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    t0 = now();
    do {
        int k;
        for (k = 0; k < 10; k++) {
            CURLcode rc;
            b.len = 0;
            rc = curl_easy_perform(c);
            if (rc != CURLE_OK) {
                fprintf(stderr, "curl_loop: %s\n", curl_easy_strerror(rc));
                return 1;
            }
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            if (status != 200 || b.len == 0) {
                fprintf(stderr, "curl_loop: HTTP %ld, %lu bytes\n", status, (unsigned long)b.len);
                return 1;
            }
            n++;
        }
        t = now();
    } while (count >= 0 ? n < count : t - t0 < seconds);
    printf("%ld %.6f\n", n, t - t0);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(b.p);
    curl_global_cleanup();
    return 0;
}
