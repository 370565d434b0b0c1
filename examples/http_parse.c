/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x request-head parser (see http_parse.h). It re-parses from the
 * start on every call: heads are capped at max_head bytes, so that is cheap,
 * and it keeps the parser stateless.
 */
#include "http_parse.h"

#include <string.h>

#define MAX_FIELDS 64u

static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

/* Connection: a comma-separated token list. */
static void apply_connection(const char *v, size_t n, http_request *req)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (ieq(v + s, i - s, "close"))
            req->keep_alive = false;
        else if (ieq(v + s, i - s, "keep-alive"))
            req->keep_alive = true;
    }
}

static bool parse_content_length(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 18) /* 18 digits cannot overflow */
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

/* Finds the CRLF ending the line at p; NULL if the buffer ends first.
 * *bad is set for a bare CR or LF. */
static const char *line_end(const char *p, const char *end, bool *bad)
{
    for (const char *q = p; q < end; q++) {
        if (*q == '\n') {
            *bad = true;
            return NULL;
        }
        if (*q == '\r') {
            if (q + 1 == end)
                return NULL;
            if (q[1] != '\n')
                *bad = true;
            return *bad ? NULL : q;
        }
    }
    return NULL;
}

/* Where the bytes of the line at p that can be checked end: at its CRLF, or
 * at the end of the buffer minus a final CR whose LF has not arrived. */
static const char *scan_limit(const char *p, const char *eol, const char *end)
{
    if (eol)
        return eol;
    return (end > p && end[-1] == '\r') ? end - 1 : end;
}

http_result http_parse_request(const char *buf, size_t len, size_t max_head, http_request *req)
{
    const char *p = buf, *end = buf + (len < max_head ? len : max_head);
    bool bad = false;
    memset(req, 0, sizeof(*req));

    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;

    /* request line: method SP target SP HTTP/1.d CRLF */
    const char *eol = line_end(p, end, &bad);
    const char *scan_end = scan_limit(p, eol, end);
    const char *q = p;
    while (q < scan_end && is_tchar((unsigned char)*q))
        q++;
    if (q < scan_end && (*q != ' ' || q == p))
        return HTTP_BAD;
    req->method = p;
    req->method_len = (size_t)(q - p);
    if (q < scan_end) {
        const char *t = ++q;
        while (q < scan_end && (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f)
            q++;
        if (q < scan_end && (*q != ' ' || q == t))
            return HTTP_BAD;
        req->target = t;
        req->target_len = (size_t)(q - t);
        if (q < scan_end) {
            const char *v = ++q;
            static const char proto[] = "HTTP/1.";
            size_t have = (size_t)(scan_end - v);
            if (memcmp(v, proto, have < 7 ? have : 7) != 0)
                return HTTP_BAD;
            if (eol) {
                if (have != 8 || (v[7] != '0' && v[7] != '1'))
                    return HTTP_BAD;
                req->minor = v[7] - '0';
            } else if (have > 8) {
                return HTTP_BAD;
            }
        } else if (eol) {
            return HTTP_BAD;
        }
    } else if (eol) {
        return HTTP_BAD;
    }
    if (bad)
        return HTTP_BAD;
    if (!eol)
        return len >= max_head ? HTTP_BAD : HTTP_INCOMPLETE;
    req->keep_alive = req->minor == 1;
    p = eol + 2;

    /* header fields until the empty line */
    bool have_cl = false;
    for (;;) {
        eol = line_end(p, end, &bad);
        if (bad)
            return HTTP_BAD;
        scan_end = scan_limit(p, eol, end);
        if (eol == p) { /* the empty line */
            req->head_len = (size_t)(eol + 2 - buf);
            return HTTP_OK;
        }
        q = p;
        while (q < scan_end && is_tchar((unsigned char)*q))
            q++;
        if (q < scan_end && (*q != ':' || q == p))
            return HTTP_BAD; /* also obs-fold: a line starting with SP/HTAB */
        for (const char *c = q; c < scan_end; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return HTTP_BAD;
        if (!eol)
            return len >= max_head ? HTTP_BAD : HTTP_INCOMPLETE;
        if (++req->nheaders > MAX_FIELDS)
            return HTTP_BAD;
        const char *name = p;
        size_t name_len = (size_t)(q - p);
        const char *v = q + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);
        if (ieq(name, name_len, "content-length")) {
            uint64_t cl;
            if (!parse_content_length(v, vlen, &cl) || (have_cl && cl != req->content_length))
                return HTTP_BAD;
            req->content_length = cl;
            have_cl = true;
        } else if (ieq(name, name_len, "transfer-encoding")) {
            return HTTP_BAD;
        } else if (ieq(name, name_len, "connection")) {
            apply_connection(v, vlen, req);
        }
        p = eol + 2;
    }
}
