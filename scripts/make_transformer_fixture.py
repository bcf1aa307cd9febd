#!/usr/bin/python3
"""Reference values for kdkit's BERT-style encoder classifier (the `transformer` student), from PyTorch.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 scripts/make_transformer_fixture.py
It writes test/fixtures/transformer.json atomically (to <path>.tmp, then renamed).

The network is Hugging Face's BertModel with dropout 0 (post-LayerNorm, exact erf GELU, LayerNorm
eps 1e-12, the additive attention mask (1 - mask) * -10000.0 of get_extended_attention_mask), with a
classifier on top. BertModel itself is not imported (transformers is not installed here): its
modules are restated below from nn.Embedding, nn.Linear and nn.LayerNorm, keeping BertEmbeddings',
BertSelfAttention's (transpose_for_scores), BertSelfOutput's, BertIntermediate's, BertOutput's and
BertPooler's arithmetic. Two poolings, each a case of the fixture:
  - 'cls':  tanh(hidden[:, 0] @ pooler + b), BERT's pooler;
  - 'mean': the masked mean of the last hidden state over the sequence (no pooler weights).
then logits = pooled @ logits/kernel + logits/bias.

Sizes: vocab 50, sequence 7, hidden 8, 2 heads (size 4), intermediate 16, 2 layers, 2 token types,
3 classes, batch 3. The attention mask's rows have lengths 7, 4 and 2; row 1 has token type 1 at
positions 2 and 3.

Weights are float32 (torch.manual_seed; normal with std 0.5 for embedding tables, kernels and biases,
LayerNorm gamma 1 + 0.1 * normal and beta 0.1 * normal); both cases share them, the pooler is only in
'cls'. They are stored as those float32 values, in TensorFlow.js' layout and names (dense kernels
[in, out], the transpose of torch's Linear.weight; see tf_names()). Everything expected is computed
in float64 from .double() copies of them:
  - embeddings: the embedding LayerNorm's output [B, S, H];
  - layers[i].attention_scores: the pre-softmax scores, mask term included, [B, heads, S, S] (what
    TinyBERT's modified BERT returns as attention), and layers[i].hidden [B, S, H];
  - logits [B, C];
  - gradients of loss = sum(logits * lossWeights) w.r.t. every weight, in the weights' layout
    (lossWeights [B, C] is random, float32 values too).
Rows of word_embeddings/embeddings whose ids appear nowhere, or only at masked positions, have zero
gradient (a masked key's probability exp(-10000 + ...) is exactly 0 in float64). The key biases'
gradients are zero in exact arithmetic (adding q . b_key to every score of a query does not change
its softmax); the fixture holds what PyTorch computed, rounding noise below 1e-14, so compare them
with an absolute tolerance. Every other weight's gradient is non-zero in every element.

The script checks its numbers against a second, independent computation (plain einsum on the
TensorFlow.js-layout weights, with its own autograd pass) and fails if they differ by more than 1e-10.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "transformer.json")
SEED = 20261212

VOCAB, SEQUENCE, HIDDEN, HEADS, INTERMEDIATE, LAYERS, TYPE_VOCAB, CLASSES, BATCH = 50, 7, 8, 2, 16, 2, 2, 3, 3
HEAD_SIZE = HIDDEN // HEADS
EPS = 1e-12
LENGTHS = [7, 4, 2]
TOLERANCE = 1e-10


def make_inputs(generator):
    input_ids = torch.randint(0, VOCAB, (BATCH, SEQUENCE), generator=generator, dtype=torch.int64)
    attention_mask = torch.tensor([[1] * n + [0] * (SEQUENCE - n) for n in LENGTHS], dtype=torch.int64)
    token_type_ids = torch.zeros(BATCH, SEQUENCE, dtype=torch.int64)
    token_type_ids[1] = torch.tensor([0, 0, 1, 1, 0, 0, 0])
    # float32 values (used as float64), so that a float32 test multiplies by exactly the same numbers
    loss_weights = torch.randn(BATCH, CLASSES, generator=generator, dtype=torch.float32).double()
    return input_ids, attention_mask, token_type_ids, loss_weights


def make_weights():
    """float32 weights in TensorFlow.js' layout, keyed by TensorFlow.js name, drawn in a fixed order."""
    torch.manual_seed(SEED)
    weights = {}

    def normal(name, *shape):
        weights[name] = torch.randn(*shape, dtype=torch.float32) * 0.5

    def norm(name, size):
        weights[f"{name}/gamma"] = 1 + 0.1 * torch.randn(size, dtype=torch.float32)
        weights[f"{name}/beta"] = 0.1 * torch.randn(size, dtype=torch.float32)

    def dense(name, units_in, units_out):
        normal(f"{name}/kernel", units_in, units_out)
        normal(f"{name}/bias", units_out)

    normal("word_embeddings/embeddings", VOCAB, HIDDEN)
    normal("position_embeddings/embeddings", SEQUENCE, HIDDEN)
    normal("token_type_embeddings/embeddings", TYPE_VOCAB, HIDDEN)
    norm("embeddings", HIDDEN)
    for i in range(1, LAYERS + 1):
        for part in ("query", "key", "value", "attention_output"):
            dense(f"layer_{i}.{part}", HIDDEN, HIDDEN)
        norm(f"layer_{i}.attention_norm", HIDDEN)
        dense(f"layer_{i}.intermediate", HIDDEN, INTERMEDIATE)
        dense(f"layer_{i}.output", INTERMEDIATE, HIDDEN)
        norm(f"layer_{i}.hidden", HIDDEN)
    dense("logits", HIDDEN, CLASSES)
    dense("pooler", HIDDEN, HIDDEN)  # drawn last, so that the shared weights do not depend on it
    return weights


class Layer(nn.Module):
    """BertLayer with dropout 0: BertSelfAttention, BertSelfOutput, BertIntermediate, BertOutput."""

    def __init__(self):
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.attention_output = nn.Linear(HIDDEN, HIDDEN)
        self.attention_norm = nn.LayerNorm(HIDDEN, eps=EPS)
        self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
        self.output = nn.Linear(INTERMEDIATE, HIDDEN)
        self.hidden = nn.LayerNorm(HIDDEN, eps=EPS)

    @staticmethod
    def transpose_for_scores(x):
        return x.view(x.size(0), x.size(1), HEADS, HEAD_SIZE).permute(0, 2, 1, 3)

    def forward(self, x, extended_mask):
        q = self.transpose_for_scores(self.query(x))
        k = self.transpose_for_scores(self.key(x))
        v = self.transpose_for_scores(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HEAD_SIZE)
        scores = scores + extended_mask
        probs = nn.functional.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        context = context.view(context.size(0), context.size(1), HIDDEN)
        attention = self.attention_norm(self.attention_output(context) + x)
        hidden = self.hidden(self.output(F.gelu(self.intermediate(attention))) + attention)
        return scores, hidden


class Classifier(nn.Module):
    """BertEmbeddings, LAYERS BertLayers, a pooling ('cls': BertPooler; 'mean': masked mean), a linear head."""

    def __init__(self, pooling):
        super().__init__()
        self.pooling = pooling
        self.word_embeddings = nn.Embedding(VOCAB, HIDDEN)
        self.position_embeddings = nn.Embedding(SEQUENCE, HIDDEN)
        self.token_type_embeddings = nn.Embedding(TYPE_VOCAB, HIDDEN)
        self.embeddings_norm = nn.LayerNorm(HIDDEN, eps=EPS)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.pooler = nn.Linear(HIDDEN, HIDDEN) if pooling == "cls" else None
        self.logits = nn.Linear(HIDDEN, CLASSES)

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.size(1), dtype=torch.int64).unsqueeze(0).expand_as(input_ids)
        embeddings = self.embeddings_norm(
            self.word_embeddings(input_ids) + self.position_embeddings(positions) + self.token_type_embeddings(token_type_ids))
        # BertModel.get_extended_attention_mask (before Hugging Face moved to finfo.min)
        extended_mask = (1.0 - attention_mask[:, None, None, :].to(embeddings.dtype)) * -10000.0
        x = embeddings
        layers = []
        for layer in self.layers:
            scores, x = layer(x, extended_mask)
            layers.append((scores, x))
        if self.pooling == "cls":
            pooled = torch.tanh(self.pooler(x[:, 0]))
        else:
            mask = attention_mask.to(x.dtype).unsqueeze(-1)
            pooled = (x * mask).sum(1) / mask.sum(1)
        return embeddings, layers, self.logits(pooled)

    def tf_names(self):
        """TensorFlow.js weight name -> (parameter, whether TensorFlow.js stores its transpose)."""
        names = {
            "word_embeddings/embeddings": (self.word_embeddings.weight, False),
            "position_embeddings/embeddings": (self.position_embeddings.weight, False),
            "token_type_embeddings/embeddings": (self.token_type_embeddings.weight, False),
            "embeddings/gamma": (self.embeddings_norm.weight, False),
            "embeddings/beta": (self.embeddings_norm.bias, False),
        }
        modules = [(f"layer_{i}.{part}", getattr(layer, part)) for i, layer in enumerate(self.layers, 1)
                   for part in ("query", "key", "value", "attention_output", "attention_norm", "intermediate", "output", "hidden")]
        modules += [("pooler", self.pooler)] if self.pooler is not None else []
        modules += [("logits", self.logits)]
        for name, module in modules:
            if isinstance(module, nn.LayerNorm):
                names[f"{name}/gamma"] = (module.weight, False)
                names[f"{name}/beta"] = (module.bias, False)
            else:
                names[f"{name}/kernel"] = (module.weight, True)
                names[f"{name}/bias"] = (module.bias, False)
        return names


def reference(weights, inputs, pooling):
    """The fixture's numbers: the nn.Module network in float64, loaded with the float32 weights."""
    input_ids, attention_mask, token_type_ids, loss_weights = inputs
    model = Classifier(pooling).double()
    names = model.tf_names()
    with torch.no_grad():
        for name, (parameter, transposed) in names.items():
            value = weights[name].double()
            parameter.copy_(value.t() if transposed else value)
    embeddings, layers, logits = model(input_ids, attention_mask, token_type_ids)
    (logits * loss_weights).sum().backward()
    gradients = {name: (p.grad.t() if transposed else p.grad) for name, (p, transposed) in names.items()}
    return {"embeddings": embeddings.detach(), "layers": [(s.detach(), h.detach()) for s, h in layers],
            "logits": logits.detach(), "gradients": gradients}


def layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + EPS) * gamma + beta


def independent(weights, inputs, pooling):
    """The same network again from the TensorFlow.js-layout weights with einsum, as a cross-check."""
    input_ids, attention_mask, token_type_ids, loss_weights = inputs
    names = [n for n in weights if pooling == "cls" or not n.startswith("pooler/")]
    w = {n: weights[n].double().requires_grad_(True) for n in names}
    one_hot = lambda ids, n: F.one_hot(ids, n).double()
    e = (torch.einsum("bsv,vh->bsh", one_hot(input_ids, VOCAB), w["word_embeddings/embeddings"])
         + w["position_embeddings/embeddings"][None]
         + torch.einsum("bst,th->bsh", one_hot(token_type_ids, TYPE_VOCAB), w["token_type_embeddings/embeddings"]))
    embeddings = layer_norm(e, w["embeddings/gamma"], w["embeddings/beta"])
    mask = attention_mask.double()
    x = embeddings
    layers = []
    for i in range(1, LAYERS + 1):
        p = f"layer_{i}."
        dense = lambda t, name: torch.einsum("...i,io->...o", t, w[p + name + "/kernel"]) + w[p + name + "/bias"]
        heads = lambda t: t.reshape(BATCH, SEQUENCE, HEADS, HEAD_SIZE)  # [b, s, head, d]
        q, k, v = heads(dense(x, "query")), heads(dense(x, "key")), heads(dense(x, "value"))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / HEAD_SIZE ** 0.5 - 10000.0 * (1 - mask)[:, None, None, :]
        probs = torch.exp(scores - scores.amax(-1, keepdim=True))
        probs = probs / probs.sum(-1, keepdim=True)
        context = torch.einsum("bhqk,bkhd->bqhd", probs, v).reshape(BATCH, SEQUENCE, HIDDEN)
        attention = layer_norm(dense(context, "attention_output") + x, w[p + "attention_norm/gamma"], w[p + "attention_norm/beta"])
        h = dense(attention, "intermediate")
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
        x = layer_norm(dense(h, "output") + attention, w[p + "hidden/gamma"], w[p + "hidden/beta"])
        layers.append((scores, x))
    if pooling == "cls":
        pooled = torch.tanh(x[:, 0] @ w["pooler/kernel"] + w["pooler/bias"])
    else:
        pooled = torch.einsum("bsh,bs->bh", x, mask) / mask.sum(1, keepdim=True)
    logits = pooled @ w["logits/kernel"] + w["logits/bias"]
    grads = torch.autograd.grad((logits * loss_weights).sum(), [w[n] for n in names])
    return {"embeddings": embeddings.detach(), "layers": [(s.detach(), h.detach()) for s, h in layers],
            "logits": logits.detach(), "gradients": dict(zip(names, grads))}


def max_difference(a, b):
    assert a["gradients"].keys() == b["gradients"].keys()
    pairs = [(a["embeddings"], b["embeddings"]), (a["logits"], b["logits"])]
    pairs += [(x, y) for la, lb in zip(a["layers"], b["layers"]) for x, y in zip(la, lb)]
    pairs += [(a["gradients"][n], b["gradients"][n]) for n in a["gradients"]]
    return max((x - y).abs().max().item() for x, y in pairs)


def check(result, inputs, pooling):
    """Masked keys score about -10000; every weight's gradient is non-zero somewhere. Prints both."""
    input_ids, attention_mask, _, _ = inputs
    masked = (attention_mask == 0)[:, None, None, :].expand_as(result["layers"][0][0])
    for i, (scores, _) in enumerate(result["layers"], 1):
        on, off = scores[masked], scores[~masked]
        print(f"  [{pooling}] layer_{i} scores: masked keys in [{on.min().item():.4f}, {on.max().item():.4f}], "
              f"others in [{off.min().item():.4f}, {off.max().item():.4f}]")
        assert (on + 10000).abs().max() < 100 and off.abs().max() < 100
    used = sorted(set(input_ids[attention_mask == 1].tolist()))
    for name, grad in result["gradients"].items():
        magnitude = grad.abs()
        note = ""
        if name == "word_embeddings/embeddings":
            note = f"; over the {len(used)} ids at unmasked positions: min {magnitude[used].min().item():.3e}"
            assert magnitude[used].min() > 0
            unused = [r for r in range(VOCAB) if r not in used]
            assert magnitude[unused].max() == 0
        elif name.endswith(".key/bias"):
            # q . (k + b) = q . k + q . b: the same for every key of a query, which softmax cancels.
            note = " (zero in exact arithmetic: rounding only)"
            assert magnitude.max() < 1e-12, name
        else:
            assert magnitude.min() > 0, name
        print(f"  [{pooling}] {name:35s} min |grad| {magnitude.min().item():.3e}, max {magnitude.max().item():.3e}{note}")


def main():
    generator = torch.Generator().manual_seed(SEED)
    inputs = make_inputs(generator)
    input_ids, attention_mask, token_type_ids, loss_weights = inputs
    weights = make_weights()
    cases = []
    worst = 0.0
    for pooling in ("cls", "mean"):
        result = reference(weights, inputs, pooling)
        difference = max_difference(result, independent(weights, inputs, pooling))
        print(f"{pooling}: max |nn.Module - einsum| over embeddings, scores, hidden, logits, gradients = {difference:.3e}")
        assert difference < TOLERANCE, difference
        worst = max(worst, difference)
        check(result, inputs, pooling)
        cases.append({
            "pooling": pooling,
            "weights": {name: weights[name].tolist() for name in result["gradients"]},
            "logits": result["logits"].tolist(),
            "embeddings": result["embeddings"].tolist(),
            "layers": [{"attention_scores": s.tolist(), "hidden": h.tolist()} for s, h in result["layers"]],
            "gradients": {name: g.tolist() for name, g in result["gradients"].items()},
        })
    fixture = {
        "source": "scripts/make_transformer_fixture.py (Hugging Face BertModel's arithmetic, dropout 0, float64)",
        "torch": torch.__version__,
        "sizes": {"vocab": VOCAB, "sequence": SEQUENCE, "hidden": HIDDEN, "heads": HEADS, "intermediate": INTERMEDIATE,
                  "layers": LAYERS, "typeVocab": TYPE_VOCAB, "classes": CLASSES, "batch": BATCH, "layerNormEpsilon": EPS},
        "inputs": {"input_ids": input_ids.tolist(), "attention_mask": attention_mask.tolist(),
                   "token_type_ids": token_type_ids.tolist()},
        "lossWeights": loss_weights.tolist(),
        "cases": cases,
    }
    # One line per top-level key and per case, the rest compact.
    lines = []
    for key, value in fixture.items():
        if key == "cases":
            body = ",\n".join("  " + json.dumps(case) for case in value)
            lines.append(f' "cases": [\n{body}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    os.replace(tmp, OUT)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes); cross-check max difference {worst:.3e}; "
          f"logits {[[round(v, 4) for v in row] for row in cases[0]['logits']]} (cls)")


if __name__ == "__main__":
    main()
