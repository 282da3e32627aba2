
/*
 * Copyright (C) ngx_llm_router authors
 *
 * libFuzzer target: the stored-entry decoder and the stream replayer.  A
 * decoded entry lies inside its bytes and re-encodes to the same header;
 * the replayer's events cover the body exactly, in order, each non-empty;
 * the completeness check never reads outside the body.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_llm_cache_entry.h"


static void
check_events(const unsigned char *body, size_t len, int sse)
{
    const unsigned char  *p, *next, *end;

    p = body;
    end = body + len;

    while (p < end) {
        next = ngx_llm_entry_next_event(p, end, sse);

        if (next <= p || next > end) {
            abort();
        }

        /* an event ends with a newline unless it is the unfinished last */
        if (next < end && next[-1] != '\n') {
            abort();
        }

        if (sse && next < end && (next - p < 2 || next[-2] != '\n')) {
            abort();
        }

        p = next;
    }
}


int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    unsigned char     *copy, *hdr, *p;
    ngx_llm_entry_t    e;

    /* an exact-size copy, so that ASan sees any read past the end */
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    check_events(copy, size, 0);
    check_events(copy, size, 1);

    (void) ngx_llm_entry_complete(copy, size, 0, 0);
    (void) ngx_llm_entry_complete(copy, size, 1, 0);
    (void) ngx_llm_entry_complete(copy, size, 1, 1);

    if (ngx_llm_entry_decode(copy, size, &e) == 0) {

        if (e.model < copy || e.type < e.model + e.model_len
            || e.body < e.type + e.type_len
            || e.body + e.body_len != copy + size
            || e.model_len == 0 || e.type_len == 0)
        {
            abort();
        }

        hdr = malloc(ngx_llm_entry_header_len(e.model_len, e.type_len));
        if (hdr == NULL) {
            abort();
        }

        p = ngx_llm_entry_write_header(hdr, e.stream, e.model, e.model_len,
                                       e.type, e.type_len);

        if ((size_t) (p - hdr)
            != ngx_llm_entry_header_len(e.model_len, e.type_len)
            || (size_t) (p - hdr) != size - e.body_len
            || memcmp(hdr, copy, p - hdr) != 0)
        {
            abort();
        }

        free(hdr);

        check_events(e.body, e.body_len,
                     ngx_llm_entry_is_sse(e.type, e.type_len));
    }

    free(copy);

    return 0;
}
