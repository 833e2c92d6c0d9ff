"""Tests of Client.embed() and AsyncClient.embed() (ulm_embed).

ArgumentTests need no server. LocalEmbedTests need ULM_TEST_DMR_URL, a Docker Model Runner
(or tests/servers/dmr-server.mjs, whose vectors come from llama.cpp's embedding context of
the model) serving ai/stories260k; OpenAISpecTests need ULM_TEST_OPENAI_URL, prism serving
OpenAI's published spec (tests/run.sh sets both).

    PYTHONPATH=bindings/python ULTRALLM_LIBRARY=build/libultrallm.so \\
        python3 -m unittest discover -s bindings/python/tests -p test_embed.py -v
"""

import asyncio
import math
import os
import threading
import unittest

import ultrallm

DEAD_URL = "http://127.0.0.1:1"  # port 1 refuses connections at once
TEXTS = ["Once upon a time", "there was a dragon"]


class ArgumentTests(unittest.TestCase):
    def setUp(self):
        self.client = ultrallm.Client(ignore_environment=True, model_runner_url=DEAD_URL)
        self.addCleanup(self.client.close)

    def test_inputs_are_checked(self):
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.embed([], model="dmr/ai/x")
        self.assertIn("no input to embed", str(caught.exception))
        with self.assertRaises(ultrallm.InvalidArgumentError) as caught:
            self.client.embed(["a", ""], model="dmr/ai/x")
        self.assertIn("texts[1]: empty", str(caught.exception))
        with self.assertRaises(ultrallm.InvalidArgumentError):
            self.client.embed(["a\0b"], model="dmr/ai/x")
        with self.assertRaises(TypeError):
            self.client.embed([b"bytes"], model="dmr/ai/x")
        with self.assertRaises(TypeError):
            self.client.embed(["a"], model="dmr/ai/x", cancel="soon")

    def test_a_failure_raises_with_its_attempts(self):
        with self.assertRaises(ultrallm.ConnectError) as caught:
            self.client.embed(TEXTS, model="dmr/ai/x")
        self.assertEqual([(a.provider, a.error) for a in caught.exception.attempts],
                         [("dmr", "connect")])


@unittest.skipUnless(os.environ.get("ULM_TEST_DMR_URL"),
                     "set ULM_TEST_DMR_URL to a Docker Model Runner (or tests/servers/"
                     "dmr-server.mjs) serving ai/stories260k to run the embedding tests")
class LocalEmbedTests(unittest.TestCase):
    MODEL = "dmr/ai/stories260k"

    def setUp(self):
        self.client = ultrallm.Client(ignore_environment=True,
                                      model_runner_url=os.environ["ULM_TEST_DMR_URL"])
        self.addCleanup(self.client.close)

    def assert_real_vectors(self, embeddings, count):
        self.assertIsInstance(embeddings, ultrallm.Embeddings)
        self.assertEqual(len(embeddings), count)
        self.assertGreater(embeddings.dimensions, 0)
        for vector in embeddings:
            self.assertIsInstance(vector, list)
            self.assertEqual(len(vector), embeddings.dimensions)
            self.assertTrue(all(isinstance(x, float) and math.isfinite(x) for x in vector))
            # llama.cpp's OpenAI endpoint returns unit vectors
            self.assertAlmostEqual(math.fsum(x * x for x in vector), 1.0, places=2)
        self.assertEqual(embeddings.provider, "dmr")
        self.assertTrue(embeddings.model.startswith("ai/stories260k"), embeddings.model)
        self.assertEqual([(a.provider, a.ok) for a in embeddings.attempts], [("dmr", True)])

    def test_two_texts_give_two_different_real_vectors(self):
        embeddings = self.client.embed(TEXTS, model=self.MODEL)
        self.assert_real_vectors(embeddings, 2)
        first, second = embeddings.vectors
        self.assertEqual(embeddings[0], first)
        self.assertGreater(math.fsum(abs(a - b) for a, b in zip(first, second)), 0.01)
        self.assertGreater(embeddings.usage.prompt_tokens, 0)
        self.assertGreater(embeddings.latency_ms, 0)
        self.assertEqual(embeddings.retries, 0)
        self.assertIsNone(embeddings.cost)
        self.assertIn("vectors=2", repr(embeddings))
        # the same text twice: the same vector
        again = self.client.embed(TEXTS[0], model=self.MODEL)
        self.assert_real_vectors(again, 1)
        for a, b in zip(again[0], first):
            self.assertAlmostEqual(a, b, places=5)

    def test_a_backend_without_embeddings_falls_back(self):
        with ultrallm.Client(ignore_environment=True,
                             model_runner_url=os.environ["ULM_TEST_DMR_URL"],
                             anthropic_api_key="sk-ant-embed-test-0123456789",
                             anthropic_base_url=DEAD_URL) as client:  # never asked
            embeddings = client.embed(TEXTS, model=["anthropic/claude-haiku-4-5", self.MODEL])
        self.assertEqual([(a.provider, a.error) for a in embeddings.attempts],
                         [("anthropic", "unsupported"), ("dmr", None)])
        self.assertEqual(len(embeddings), 2)

    def test_on_another_thread(self):
        results = []
        thread = threading.Thread(target=lambda: results.append(
            self.client.embed(TEXTS, model=self.MODEL)))
        thread.start()
        thread.join(120)
        self.assert_real_vectors(results[0], 2)

    def test_async_embed(self):
        async def main():
            async with ultrallm.AsyncClient(ignore_environment=True,
                                            model_runner_url=os.environ["ULM_TEST_DMR_URL"]
                                            ) as client:
                return await asyncio.gather(*(client.embed(TEXTS, model=self.MODEL)
                                              for _ in range(3)))

        results = asyncio.run(main())
        for embeddings in results:
            self.assert_real_vectors(embeddings, 2)
        self.assertEqual(results[0].vectors, results[1].vectors)


@unittest.skipUnless(os.environ.get("ULM_TEST_OPENAI_URL"),
                     "set ULM_TEST_OPENAI_URL to prism serving OpenAI's spec to run the "
                     "OpenAI embedding test")
class OpenAISpecTests(unittest.TestCase):
    def test_the_spec_accepts_the_request(self):
        # prism checks the request against OpenAI's published spec (a 422 otherwise) and
        # answers the spec's example, which holds one vector whatever was asked.
        with ultrallm.Client(ignore_environment=True, enable_model_runner=False,
                             openai_base_url=os.environ["ULM_TEST_OPENAI_URL"],
                             openai_api_key="sk-embed-test-0123456789") as client:
            embeddings = client.embed(["hello"], model="openai/text-embedding-3-small")
        self.assertEqual(len(embeddings), 1)
        self.assertEqual(len(embeddings[0]), embeddings.dimensions)
        self.assertEqual(embeddings.provider, "openai")


if __name__ == "__main__":
    unittest.main()
