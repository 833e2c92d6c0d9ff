/* simple.c - the smallest complete use of libultrallm: one question, a fallback chain. */
#include <stdio.h>

#include <ultrallm/ultrallm.h>

int main(int argc, char **argv)
{
    const char *prompt = argc > 1 ? argv[1] : "Once upon a time";
    ulm_client *client = NULL;
    char err[ULM_ERROR_SIZE];
    if (ulm_client_new(&client, NULL, err, sizeof err) != ULM_OK) {
        fprintf(stderr, "configuration: %s\n", err);
        return 1;
    }
    ulm_request *req = NULL;
    ulm_request_new(&req);
    /* the local model first; the clouds only if it fails, each only with its key set */
    ulm_request_add_model(req, argc > 2 ? argv[2] : ulm_client_default_model(client));
    ulm_request_add_model(req, "anthropic/claude-haiku-4-5");
    ulm_request_add_model(req, "openai/gpt-4o-mini");
    ulm_request_add_message(req, ULM_ROLE_USER, prompt);
    ulm_request_set_max_tokens(req, 64);

    ulm_response *resp = NULL;
    int rc = ulm_complete(&resp, client, req);
    if (rc == ULM_OK)
        printf("%s/%s: %s\n", ulm_response_provider(resp), ulm_response_model(resp),
               ulm_response_text(resp));
    else
        fprintf(stderr, "%s: %s\n", ulm_error_name(rc), ulm_response_error_message(resp));
    for (size_t i = 0; i < ulm_response_attempt_count(resp); i++) {
        const ulm_attempt *a = ulm_response_attempt(resp, i);
        fprintf(stderr, "  attempt %zu: %s/%s -> %s in %.1f ms\n", i + 1, ulm_attempt_provider(a),
                ulm_attempt_model(a), ulm_error_name(ulm_attempt_error(a)), ulm_attempt_ms(a));
    }
    ulm_response_free(resp);
    ulm_request_free(req);
    ulm_client_free(client);
    return rc == ULM_OK ? 0 : 1;
}
