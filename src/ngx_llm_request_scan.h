
/*
 * Copyright (C) ngx_llm_router authors
 *
 * A prompt request read in one pass over its body, with no tree: the
 * model and where it is, the stream flag, the token limit, what the
 * request needs of a tier, and the prompt text handed to the classifier
 * as it is found.  Pure C: no nginx types.
 */


#ifndef _NGX_LLM_REQUEST_SCAN_H_INCLUDED_
#define _NGX_LLM_REQUEST_SCAN_H_INCLUDED_


#include "ngx_llm_request.h"


/*
 * Reads req->body (req->len bytes) as a request of req->dialect.  Returns
 * 0 when the request is read; -1 when this pass does not decide it: the
 * body is not valid, or holds something rare this pass leaves to cJSON
 * (a load, a JARVIS request, escapes in names, \u0000, very deep or long
 * values...).  On -1, req and st are left half filled: the caller starts
 * them again for ngx_llm_request_parse()'s tree.
 */
int ngx_llm_request_scan(ngx_llm_request_t *req,
    ngx_llm_classify_state_t *st);


#endif /* _NGX_LLM_REQUEST_SCAN_H_INCLUDED_ */
