/* dmr.c - the Docker Model Runner adapter: OpenAI wire format, DMR names and DMR's errors. */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "builtin.h"
#include "dmr_manage.h"
#include "openai_wire.h"

static int valid_name_char(unsigned char ch)
{
    return islower(ch) || isdigit(ch) || ch == '.' || ch == '_' || ch == '-' || ch == '/';
}

static int valid_tag_char(unsigned char ch)
{
    return isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

/* "algorithm:hex", as in sha256:0123abcd... */
static int valid_digest(const char *d)
{
    const char *colon = strchr(d, ':');
    if (!colon || colon == d || !colon[1])
        return 0;
    for (const char *p = d; p < colon; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p))
            return 0;
    for (const char *p = colon + 1; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return 0;
    return 1;
}

int ulm__dmr_normalize_model(const char *name, char *buf, size_t buf_size)
{
    static const char hf_long[] = "huggingface.co/";
    char tmp[256];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof tmp)
        return ULM_EINVAL;
    /* DMR stores Hugging Face models under hf.co/ whichever spelling pulled them */
    if (strncasecmp(name, hf_long, sizeof hf_long - 1) == 0) {
        snprintf(tmp, sizeof tmp, "hf.co/%s", name + sizeof hf_long - 1);
    } else {
        memcpy(tmp, name, len + 1);
    }

    char *digest = strchr(tmp, '@');
    char *last_slash = strrchr(tmp, '/');
    char *colon = strrchr(tmp, ':');
    if (colon && last_slash && colon < last_slash)
        colon = NULL; /* a registry port, not a tag */
    if (digest && colon && colon > digest)
        colon = NULL; /* the "sha256:" of a digest */
    char *name_end = digest ? digest : colon ? colon : tmp + strlen(tmp);

    size_t name_len = (size_t)(name_end - tmp);
    if (name_len == 0 || tmp[name_len - 1] == '/')
        return ULM_EINVAL;
    for (size_t i = 0; i < name_len; i++) {
        tmp[i] = (char)tolower((unsigned char)tmp[i]);
        if (!valid_name_char((unsigned char)tmp[i]))
            return ULM_EINVAL;
        /* every path component starts with a letter or digit: no "", "-x", "." or ".." */
        if ((i == 0 || tmp[i - 1] == '/') && !isalnum((unsigned char)tmp[i]))
            return ULM_EINVAL;
    }
    if (digest && !valid_digest(digest + 1))
        return ULM_EINVAL;
    if (colon && !digest) {
        if (!colon[1])
            return ULM_EINVAL;
        for (const char *t = colon + 1; *t; t++)
            if (!valid_tag_char((unsigned char)*t))
                return ULM_EINVAL;
    }
    /* written by hand: this runs on every call to a local model, snprintf costs more */
    const char *namespace = memchr(tmp, '/', name_len) ? "" : "ai/";
    const char *tag = colon || digest ? "" : ":latest";
    size_t ns_len = strlen(namespace), tmp_len = strlen(tmp), tag_len = strlen(tag);
    if (ns_len + tmp_len + tag_len >= buf_size)
        return ULM_EINVAL;
    memcpy(buf, namespace, ns_len);
    memcpy(buf + ns_len, tmp, tmp_len);
    memcpy(buf + ns_len + tmp_len, tag, tag_len + 1);
    return ULM_OK;
}

static int dmr_normalize(const ulm_provider *self, const char *name, char *buf,
                         size_t buf_size)
{
    (void)self;
    return ulm__dmr_normalize_model(name, buf, buf_size);
}

static int dmr_build(const ulm_provider *self, ulm_op op, const char *model,
                     const ulm_request *req, ulm_http_request *out)
{
    (void)self;
    return ulm__openai_build(op, model, req, out);
}

static int dmr_parse(const ulm_provider *self, ulm_op op, const ulm_http_response *in,
                     ulm_result *out)
{
    (void)self;
    int rc = ulm__openai_parse(op, in, out);
    if (rc != ULM_OK || ulm_result_error(out) == ULM_OK)
        return rc;
    int status = ulm_http_response_status(in);
    size_t length;
    const char *body = ulm_http_response_body(in, &length);
    const char *text = ulm_result_error_text(out);
    if (status == 502 && !text) {
        static const char empty[] = "Docker Model Runner's proxy failed (empty answer)";
        return ulm_result_set_error(out, ULM_ESERVER, empty, sizeof empty - 1);
    }
    /* DMR's own words refine the class the status gave (dmr_manage.c has the rules) */
    int code = ulm__dmr_error_class(ULM_DMR_INFERENCE, status, ulm_result_error(out), body, length);
    return ulm_result_set_error(out, code, text, text ? strlen(text) : 0);
}

static int dmr_parse_event(const ulm_provider *self, const ulm_sse_event *event,
                           ulm_result *out)
{
    (void)self;
    return ulm__openai_parse_event(event, out);
}

static void dmr_destroy(ulm_provider *self)
{
    free(self);
}

int ulm__dmr_provider_new(ulm_provider **out)
{
    ulm_provider *p = calloc(1, sizeof *p);
    if (!p)
        return ULM_ENOMEM;
    p->version = ULM_PROVIDER_VERSION;
    p->name = "dmr";
    p->flags = ULM_PROVIDER_LOCAL;
    p->normalize_model = dmr_normalize;
    p->build = dmr_build;
    p->parse = dmr_parse;
    p->parse_event = dmr_parse_event;
    p->destroy = dmr_destroy;
    *out = p;
    return ULM_OK;
}
