"""GrootL on a GPU gives what it gives on the CPU (marked ``cuda``: skipped where none is visible)."""

from __future__ import annotations

import copy

import pytest
import torch
from groot_lang import enable_tree_scan, prompt_lengths
from lang_models import tiny_model

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible"),
]


def test_forward_backward_and_generation_match_the_cpu():
    cpu = enable_tree_scan(tiny_model()).train()
    gpu = copy.deepcopy(cpu).cuda()
    ids = torch.randint(3, 112, (3, 40), generator=torch.Generator().manual_seed(0))
    results = []
    for model, device in ((cpu, "cpu"), (gpu, "cuda")):
        with prompt_lengths(model, [25, 31, 40]):
            out = model(ids.to(device), labels=ids.to(device))
        out.loss.backward()
        generated = model.eval().generate(ids[:, :12].to(device), max_new_tokens=5, do_sample=False)
        grads = {name: p.grad.cpu() for name, p in model.named_parameters()}
        results.append((out.logits.detach().cpu(), grads, generated.cpu()))
    (logits, grads, generated), (gpu_logits, gpu_grads, gpu_generated) = results
    torch.testing.assert_close(gpu_logits, logits, rtol=1e-4, atol=1e-4)
    for name, grad in grads.items():
        torch.testing.assert_close(gpu_grads[name], grad, rtol=1e-3, atol=1e-4, msg=name)
    assert torch.equal(gpu_generated, generated)
