"""The secret canary from Python: keys given by the program (options, backend_settings, a
request's own override, URL userinfo and query) never appear in an exception, a repr, a
log line, describe() or models(), while backends repeat them back (the fault server's echo/N
scenario). Needs ULM_TEST_FAULT_URL (tests/run.sh sets it)."""

import base64
import json
import os
import unittest

import ultrallm

FAULT = os.environ.get("ULM_TEST_FAULT_URL")


@unittest.skipUnless(FAULT, "set ULM_TEST_FAULT_URL to tests/servers/fault-server.mjs's URL")
class SecretCanaryTests(unittest.TestCase):
    SECRETS = {
        "option": "sk-canary-py-option-0123456789",
        "setting": "canary-py-setting-0123456789",
        "userinfo": "canary-py-userinfo-0123456789",
        "query": "canary-py-query-0123456789",
        "override": "sk-canary-py-override-0123456789",
        "override_query": "canary-py-override-query-0123456789",
    }

    def setUp(self):
        self.shown = []
        hostport = FAULT[len("http://"):]
        s = self.SECRETS
        self.client = ultrallm.Client(
            ignore_environment=True, model_runner_url="http://127.0.0.1:1",
            openai_api_key=s["option"], openai_base_url=FAULT + "/echo/401/v1",
            config_json={"backends": {
                "setting": {"type": "openai", "url": FAULT + "/echo/500/v1"},
                "userinfo": {"type": "openai",
                             "url": "http://user:%s@%s/echo/502/v1" % (s["userinfo"], hostport)},
                "query": {"type": "openai", "url": FAULT + "/echo/503/v1?key=" + s["query"]},
                "streamed": {"type": "openai", "url": FAULT + "/echo/200/v1"}}},
            backend_settings={"setting": {"api_key": s["setting"]},
                              "streamed": {"api_key": s["setting"]}},
            log=lambda level, message: self.shown.append(message),
            log_level=ultrallm.LogLevel.DEBUG)
        self.addCleanup(self.client.close)

    def keep(self, *things):
        self.shown.extend(repr(t) for t in things)
        self.shown.extend(str(t) for t in things)

    def fail_with(self, call):
        with self.assertRaises(ultrallm.UltraLLMError) as caught:
            call()
        e = caught.exception
        self.keep(e, e.message, e.attempts, e.args)
        self.keep(*(a.message for a in e.attempts))
        return e

    def test_no_secret_in_anything_shown(self):
        s = self.SECRETS
        models = ["openai/fault-model", "setting/fault-model", "userinfo/fault-model",
                  "query/fault-model", "streamed/fault-model"]
        for model in models:
            self.fail_with(lambda: self.client.complete("hi", model=model, max_tokens=4))
            self.fail_with(lambda: list(self.client.stream("hi", model=model, max_tokens=4)))
        override = {"openai": {"api_key": s["override"],
                               "base_url": FAULT + "/echo/429/v1?token=" + s["override_query"]}}
        self.fail_with(lambda: self.client.complete("hi", model="openai/fault-model",
                                                    backend_overrides=override))
        self.fail_with(lambda: self.client.complete(
            "hi", model=models, backend_overrides={"openai": {"api_key": s["override"]}}))
        self.keep(self.client, json.dumps(self.client.describe()))
        listing = self.client.models()
        self.keep(listing, *listing.backends)
        text = "\n".join(self.shown)
        for name, secret in s.items():
            self.assertNotIn(secret, text, name)
        # libcurl sends userinfo as Basic credentials, which the echo repeats
        basic = base64.b64encode(("user:" + s["userinfo"]).encode()).decode()
        self.assertNotIn(basic.rstrip("="), text)
        # the backends' echoes were seen, redacted: the search looked at real output
        for shown in ("Bearer [REDACTED]", "Basic [REDACTED]", "http://[REDACTED]@", "key=[REDACTED]",
                      "token=[REDACTED]"):
            self.assertIn(shown, text)


if __name__ == "__main__":
    unittest.main()
