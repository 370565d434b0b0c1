/* SPDX-License-Identifier: MIT */
/*
 * A strict, allocation-free parser of HTTP/1.x request heads (request line
 * and header fields), for the example server.
 */
#ifndef TLP_EXAMPLE_HTTP_PARSE_H
#define TLP_EXAMPLE_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum http_result {
    HTTP_INCOMPLETE,  /* a valid prefix: read more */
    HTTP_OK,          /* one complete head parsed into *req */
    HTTP_BAD,         /* malformed, unsupported, or longer than max_head */
} http_result;

typedef struct http_request {
    const char *method;      /* points into the parsed buffer */
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor;               /* HTTP/1.<minor>: 0 or 1 */
    bool keep_alive;         /* after the version default and Connection: */
    uint64_t content_length; /* body bytes that follow the head */
    unsigned nheaders;
    size_t head_len;         /* bytes of the head, final blank line included */
} http_request;

/*
 * Parses the request head at the start of buf[0..len). Leading empty lines
 * are skipped (RFC 9112 2.2). Lines end with CRLF. Transfer-Encoding is not
 * supported (HTTP_BAD); Content-Length must be digits, and repeated copies
 * must agree. A head longer than max_head bytes, or with more than 64 fields,
 * is HTTP_BAD.
 */
http_result http_parse_request(const char *buf, size_t len, size_t max_head, http_request *req);

#endif
