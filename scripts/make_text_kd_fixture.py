#!/usr/bin/python3
"""Reference values for three text-distillation losses (TinyBERT, MiniLMv2, DistilBERT), from PyTorch.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 scripts/make_text_kd_fixture.py
It writes test/fixtures/text_kd.json atomically (to <path>.tmp, then renamed).

Each loss is restated from its authors' (or, for MiniLMv2, a major toolkit's) code, quoted below
with the repository, file, commit and lines that were read. The restatements (reference_*) keep
that code's calls (torch.where, nn.MSELoss, nn.Linear, masked_select, nn.CosineEmbeddingLoss,
KLDivLoss(reduction="sum"), ...) and their order; gradients come from autograd. Inputs are
float32 values drawn from one torch.Generator seeded with SEED, in the order of main(); they
are stored as those float32 values and everything expected is computed in float64 from
.double() copies. Masks are 0/1 integers. A second, independent computation (independent_*:
plain Python loops over floats, or einsum on the TensorFlow.js-layout kernel, with gradients
written out by hand rather than by autograd) must agree with every loss and gradient to 1e-10,
or the script fails.

1. TinyBERT (huawei-noah/Pretrained-Language-Model, TinyBERT/task_distill.py at commit
   008b180bfb25c73554ecd89563a8be829e5f4fa0; the loss code is identical in that file at
   1bb9b3e49b05279a4ba5cbe805ac81c803f94981, at other line numbers):
     341  loss_mse = MSELoss()
     343  def soft_cross_entropy(predicts, targets):
     344      student_likelihood = torch.nn.functional.log_softmax(predicts, dim=-1)
     345      targets_prob = torch.nn.functional.softmax(targets, dim=-1)
     346      return (- targets_prob * student_likelihood).mean()
     382  assert teacher_layer_num % student_layer_num == 0
     383  layers_per_block = int(teacher_layer_num / student_layer_num)
     384  new_teacher_atts = [teacher_atts[i * layers_per_block + layers_per_block - 1]
     385                      for i in range(student_layer_num)]
     387  for student_att, teacher_att in zip(student_atts, new_teacher_atts):
     388      student_att = torch.where(student_att <= -1e2, torch.zeros_like(student_att).to(device),
     389                                student_att)
     390      teacher_att = torch.where(teacher_att <= -1e2, torch.zeros_like(teacher_att).to(device),
     391                                teacher_att)
     393      tmp_loss = loss_mse(student_att, teacher_att)
     394      att_loss += tmp_loss
     396  new_teacher_reps = [teacher_reps[i * layers_per_block] for i in range(student_layer_num + 1)]
     397  new_student_reps = student_reps
     398  for student_rep, teacher_rep in zip(new_student_reps, new_teacher_reps):
     399      tmp_loss = loss_mse(student_rep, teacher_rep)
     400      rep_loss += tmp_loss
     407  cls_loss = soft_cross_entropy(student_logits / args.temperature,
     408                                teacher_logits / args.temperature)
   and TinyBERT/transformer/modeling.py (commit e670706c041246b975a3646bc6a27c48786f6c15):
   TinyBertForSequenceClassification.__init__ has `self.fit_dense = nn.Linear(config.hidden_size,
   fit_size)` and its forward, when is_student, replaces every hidden state (embeddings included) by
   `self.fit_dense(sequence_layer)`: the one shared Linear maps the student's hidden size to the
   teacher's before the MSE. BertSelfAttention.forward returns `attention_scores` (pre-softmax,
   after `attention_scores = attention_scores + attention_mask`), BertModel.forward builds that mask
   as `(1.0 - extended_attention_mask) * -10000.0`, and BertEncoder.forward collects the embedding
   output first, so teacher_reps[0] is the embeddings and teacher_atts[i] is layer i + 1's scores.
   So, per pair of matched layers (the official code sums these pairs over layers):
     - attention: where(x <= -100, 0, x) on both score tensors [B, heads, S, S] (this zeroes the
       masked keys, about -10000, and nothing else here: unmasked scores are far above -100), then
       the mean of squared differences over ALL B*heads*S*S entries (masked keys count as 0 - 0,
       padded query rows count in full). Gradient: 2 (s - t) / (B*heads*S*S) where s > -100, else 0.
     - hidden: mean over all B*S*hidden_T entries of (fit_dense(student) - teacher)^2; no mask
       (padded positions count).
     - prediction: soft_cross_entropy(s / T, t / T) = -sum(softmax(t/T) * log_softmax(s/T)) / (B*C):
       a cross-entropy (the teacher's entropy is included; it is not a KL), .mean() over ALL B*C
       elements (not a sum over classes then a batch mean: it is that divided by C), and no T^2
       factor. Gradient w.r.t. the student logits: (softmax(s/T) - softmax(t/T)) / (T*B*C).
     - layer mapping: student attention j (0-based, layer j + 1) takes teacher_atts[(j + 1) * k - 1],
       student hidden state i (0 = embeddings) takes teacher_reps[i * k], where k = teacher layers /
       student layers (which must divide).

2. MiniLMv2 (Wang et al. 2021, arXiv:2012.15828), Q-Q, K-K and V-V self-attention relations of the
   last layer. microsoft/unilm's minilm/ folder holds only README.md and examples/run_xnli.py: no
   distillation code (issues #105, #224 and #316 there ask for it). TextBrewer's losses.py has no
   relation loss. The most official code found is PaddleNLP's (PaddlePaddle/PaddleNLP, Baidu's NLP
   toolkit), which is what this fixture follows:
   paddlenlp/transformers/distill_utils.py (commit 0025c3d29c3f923720afcc24c012813b1d543dd9),
   calc_minilm_loss(loss_fct, s, t, attn_mask, num_relation_heads):
       s = tensor.transpose(x=s, perm=[0, 2, 1, 3])                     # [bs, seq_len, heads, head_dim]
       s = tensor.reshape(x=s, shape=[0, 0, num_relation_heads, -1])
       s = tensor.transpose(x=s, perm=[0, 2, 1, 3])                     # [bs, A_r, seq_len, d_r]
       (the same for t)
       scaled_dot_product_s = tensor.matmul(x=s, y=s, transpose_y=True) / math.sqrt(s_head_dim)
       scaled_dot_product_s += attn_mask
       scaled_dot_product_t = tensor.matmul(x=t, y=t, transpose_y=True) / math.sqrt(t_head_dim)
       scaled_dot_product_t += attn_mask
       loss = loss_fct(F.log_softmax(scaled_dot_product_s), F.softmax(scaled_dot_product_t))
   and examples/model_compression/minilmv2/general_distill.py (commit
   0607add8c33c5c03df6225366c4b43df9b2354a7), do_train:
       kl_loss_func = paddle.nn.KLDivLoss("sum")
       attention_mask = paddle.unsqueeze(
           (input_ids == pad_token_id).astype(paddle.get_default_dtype()) * -1e9, axis=[1, 2])
       loss_qr = calc_minilm_loss(kl_loss_func, q_s, q_t, attention_mask, args.num_relation_heads)
       (loss_kr, loss_vr likewise)
       loss = loss_qr + loss_kr + loss_vr
       loss /= args.num_relation_heads * pad_seq_len * batch_size
   So, for X in {Q, K, V} of the last layer ([B, S, hidden], before the model's head split; the
   transpose/reshape/transpose above is exactly "split the concatenated hidden vector into A_r
   chunks", whatever the model's own head count), R = softmax(X_r X_r^T / sqrt(hidden / A_r) + m)
   over keys, with m = -1e9 at masked keys (0 elsewhere) for student and teacher alike, and
       loss = sum over X, b, r, every query i (padded ones too) and key j of
              R_T log(R_T / R_S), divided by A_r * S * B (S the padded length),
   i.e. KL(teacher || student) per query row, summed over Q, K, V and averaged over
   batch x relation heads x ALL S query positions. Padded query rows are real rows (a pad token's
   query still attends to the valid keys) and count in the sum and in the S of the divisor; masked
   keys contribute exactly 0 (their teacher probability exp(-1e9 - ...) is 0 in float32 and
   float64). The teacher's hidden size may differ from the student's (d_r differs); A_r is shared.
   Mask value: -1e9 as in PaddleNLP. BERT's -10000 gives identical numbers here (exp underflows to 0
   either way while the scores are small; the script checks this). -inf would not do: torch's
   kl_div computes 0 * log_softmax(s) = 0 * -inf = NaN at masked keys (and a fully masked row
   would be NaN in the softmax itself).
   Ambiguity: the other public implementation, bloomberg/minilmv2.bb (minilmv2/minilmv2.py, commit
   0d78e201a8cd02dbf10de414ec418dd12afc37cd, MiniLM._get_kl_loss, KLDivLoss(reduction="sum")),
   crops each sequence to its length (padded queries AND keys excluded), divides each sequence's
   sum by A_r * length_b, then averages over the batch (the paper's 1 / (A_r |x|) per sequence).
   Without padding the two agree; with padding they do not. The fixture's loss and gradients are
   PaddleNLP's; Bloomberg's value is stored beside it as alternativeLossBloomberg (value only).
   PaddleNLP is used because it is a major, maintained toolkit that ships MiniLMv2 as a named
   distillation recipe; neither it nor Bloomberg's is the authors' code.

3. DistilBERT (huggingface/transformers, examples/research_projects/distillation/distiller.py at
   commit 1607444705841ea5084ea2c37b22950175c7c84a):
     110  self.ce_loss_fct = nn.KLDivLoss(reduction="batchmean")
     115  self.cosine_loss_fct = nn.CosineEmbeddingLoss(reduction="mean")
     412  loss_ce = (
     413      self.ce_loss_fct(
     414          nn.functional.log_softmax(s_logits_slct / self.temperature, dim=-1),
     415          nn.functional.softmax(t_logits_slct / self.temperature, dim=-1),
     416      )
     417      * (self.temperature) ** 2
     418  )
     438  mask = attention_mask.unsqueeze(-1).expand_as(s_hidden_states)  # (bs, seq_length, dim)
     440  dim = s_hidden_states.size(-1)
     442  s_hidden_states_slct = torch.masked_select(s_hidden_states, mask)  # (bs * seq_length * dim)
     443  s_hidden_states_slct = s_hidden_states_slct.view(-1, dim)  # (bs * seq_length, dim)
     444  t_hidden_states_slct = torch.masked_select(t_hidden_states, mask)  # (bs * seq_length * dim)
     445  t_hidden_states_slct = t_hidden_states_slct.view(-1, dim)  # (bs * seq_length, dim)
     447  target = s_hidden_states_slct.new(s_hidden_states_slct.size(0)).fill_(1)  # (bs * seq_length,)
     448  loss_cos = self.cosine_loss_fct(s_hidden_states_slct, t_hidden_states_slct, target)
   (s_hidden_states is the last layer, line 436.) So loss = mean over the N unmasked positions of
   1 - cos(s_i, t_i); masked positions get zero gradient. torch's cosine_embedding_loss adds
   EPSILON = 1e-12 to both squared norms: cos = s.t / sqrt((|s|^2 + 1e-12) (|t|^2 + 1e-12)); both
   computations here include it (its effect is ~1e-13 at these norms).
   loss_ce is not stored: it is Hinton's KD exactly as kdkit's kd fixture already computes it
   (scripts/make_fixtures.py: F.kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") * T^2)
   applied to rows of logits; the only DistilBERT-specific part is which rows: for the MLM teacher
   the [bs, seq, vocab] logits are masked_select-ed by the attention mask (or by lm_labels > -1 with
   restrict_ce_to_mask), so "batchmean" divides by the number of selected tokens.

Sizes: batch 3, sequence 6, row lengths 6, 4 and 2 (attention masks [[1]*6, [1]*4+[0]*2, [1]*2+[0]*4]).
TinyBERT attention: 2 heads; hidden: student 4, teacher 6 (fit_dense 4 -> 6); prediction: 5
classes, T = 1 and T = 2 on the same logits. MiniLM: student hidden 8 (the student model's own 2
heads of 4), teacher hidden 12 (3 heads of 4), A_r = 4 relation heads (d_r 2 and 3). DistilBERT:
hidden 6 for both.

The Linear's weight is stored in TensorFlow.js' layout: fitDense.kernel is [in, out] = [4, 6], the
transpose of torch's nn.Linear.weight ([out, in]); bias [6]; its gradients use the same layout.
All tensors are nested lists in their natural shapes (listed in each case's "shapes").
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "text_kd.json")
SEED = 20261214
TOLERANCE = 1e-10

BATCH, SEQUENCE = 3, 6
LENGTHS = [6, 4, 2]
ATT_HEADS = 2
HIDDEN_S, HIDDEN_T = 4, 6
CLASSES = 5
TEMPERATURES = [1.0, 2.0]
MINILM_HIDDEN_S, MINILM_HIDDEN_T = 8, 12
MINILM_MODEL_HEADS_S, MINILM_MODEL_HEADS_T = 2, 3  # the models' own heads; A_r replaces them
RELATION_HEADS = 4
MINILM_MASK = -1e9  # PaddleNLP's general_distill.py
DISTILBERT_HIDDEN = 6
COSINE_EPSILON = 1e-12  # ATen's cosine_embedding_loss EPSILON
LAYER_PAIRS = [(4, 2), (12, 4), (6, 3)]


def attention_mask():
    return torch.tensor([[1] * n + [0] * (SEQUENCE - n) for n in LENGTHS], dtype=torch.int64)


def randn(generator, *shape, scale=1.0):
    """float32 normal values (scaled in float32), returned as float32."""
    return torch.randn(*shape, generator=generator, dtype=torch.float32) * scale


def grad_leaf(x):
    return x.double().clone().requires_grad_(True)


def max_abs(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


# ----------------------------------------------------------------------------------------- TinyBERT

def tinybert_layer_mapping(teacher_layer_num, student_layer_num):
    """task_distill.py lines 382-385 and 396, on list indices."""
    assert teacher_layer_num % student_layer_num == 0
    layers_per_block = int(teacher_layer_num / student_layer_num)
    attention = [i * layers_per_block + layers_per_block - 1 for i in range(student_layer_num)]
    hidden = [i * layers_per_block for i in range(student_layer_num + 1)]
    return layers_per_block, attention, hidden


def reference_tinybert_attention(student_scores32, teacher_scores32):
    loss_mse = nn.MSELoss()
    student_att = grad_leaf(student_scores32)
    teacher_att = teacher_scores32.double()
    s = torch.where(student_att <= -1e2, torch.zeros_like(student_att), student_att)
    t = torch.where(teacher_att <= -1e2, torch.zeros_like(teacher_att), teacher_att)
    loss = loss_mse(s, t)
    (grad,) = torch.autograd.grad(loss, student_att)
    return loss.item(), grad


def independent_tinybert_attention(student_scores32, teacher_scores32):
    s_all, t_all = student_scores32.double().tolist(), teacher_scores32.double().tolist()
    n = BATCH * ATT_HEADS * SEQUENCE * SEQUENCE
    total = 0.0
    grad = [[[[0.0] * SEQUENCE for _ in range(SEQUENCE)] for _ in range(ATT_HEADS)] for _ in range(BATCH)]
    for b in range(BATCH):
        for h in range(ATT_HEADS):
            for i in range(SEQUENCE):
                for j in range(SEQUENCE):
                    s, t = s_all[b][h][i][j], t_all[b][h][i][j]
                    s_kept = s if s > -100.0 else 0.0
                    t_kept = t if t > -100.0 else 0.0
                    total += (s_kept - t_kept) ** 2
                    grad[b][h][i][j] = 2.0 * (s_kept - t_kept) / n if s > -100.0 else 0.0
    return total / n, torch.tensor(grad, dtype=torch.float64)


def reference_tinybert_hidden(student32, teacher32, kernel32, bias32):
    loss_mse = nn.MSELoss()
    fit_dense = nn.Linear(HIDDEN_S, HIDDEN_T).double()
    with torch.no_grad():
        fit_dense.weight.copy_(kernel32.double().t())  # TensorFlow.js kernel [in, out] -> torch [out, in]
        fit_dense.bias.copy_(bias32.double())
    student_rep = grad_leaf(student32)
    loss = loss_mse(fit_dense(student_rep), teacher32.double())
    g_rep, g_weight, g_bias = torch.autograd.grad(loss, (student_rep, fit_dense.weight, fit_dense.bias))
    return loss.item(), g_rep, g_weight.t(), g_bias


def independent_tinybert_hidden(student32, teacher32, kernel32, bias32):
    x, t, w, b = student32.double(), teacher32.double(), kernel32.double(), bias32.double()
    y = torch.einsum("bsi,io->bso", x, w) + b
    r = y - t
    n = r.numel()
    dy = 2.0 * r / n
    return ((r * r).sum() / n).item(), torch.einsum("bso,io->bsi", dy, w), torch.einsum("bsi,bso->io", x, dy), dy.sum((0, 1))


def reference_tinybert_prediction(student32, teacher32, temperature):
    def soft_cross_entropy(predicts, targets):
        student_likelihood = torch.nn.functional.log_softmax(predicts, dim=-1)
        targets_prob = torch.nn.functional.softmax(targets, dim=-1)
        return (- targets_prob * student_likelihood).mean()

    student_logits = grad_leaf(student32)
    loss = soft_cross_entropy(student_logits / temperature, teacher32.double() / temperature)
    (grad,) = torch.autograd.grad(loss, student_logits)
    return loss.item(), grad


def softmax_row(row):
    top = max(row)
    e = [math.exp(v - top) for v in row]
    z = sum(e)
    return [v / z for v in e], top + math.log(z)


def independent_tinybert_prediction(student32, teacher32, temperature):
    s_all, t_all = student32.double().tolist(), teacher32.double().tolist()
    rows, classes = len(s_all), len(s_all[0])
    total = 0.0
    grad = []
    for s, t in zip(s_all, t_all):
        p_s, lse_s = softmax_row([v / temperature for v in s])
        p_t, _ = softmax_row([v / temperature for v in t])
        total += -sum(pt * (v / temperature - lse_s) for pt, v in zip(p_t, s))
        grad.append([(ps - pt) / (temperature * rows * classes) for ps, pt in zip(p_s, p_t)])
    return total / (rows * classes), torch.tensor(grad, dtype=torch.float64)


# ------------------------------------------------------------------------------------------ MiniLM

def model_heads(x, heads):
    """[B, S, H] -> [B, heads, S, H / heads], BERT's transpose_for_scores (what PaddleNLP's q/k/v are)."""
    b, s, h = x.shape
    return x.view(b, s, heads, h // heads).permute(0, 2, 1, 3)


def calc_minilm_loss(loss_fct, s, t, attn_mask, num_relation_heads=0):
    """PaddleNLP's calc_minilm_loss, with paddle's transpose/reshape/matmul spelled in torch."""
    if num_relation_heads > 0 and num_relation_heads != s.shape[1]:
        s = s.permute(0, 2, 1, 3)
        s = s.reshape(s.shape[0], s.shape[1], num_relation_heads, -1)
        s = s.permute(0, 2, 1, 3)
    if num_relation_heads > 0 and num_relation_heads != t.shape[1]:
        t = t.permute(0, 2, 1, 3)
        t = t.reshape(t.shape[0], t.shape[1], num_relation_heads, -1)
        t = t.permute(0, 2, 1, 3)
    s_head_dim, t_head_dim = s.shape[3], t.shape[3]
    scaled_dot_product_s = torch.matmul(s, s.transpose(-1, -2)) / math.sqrt(s_head_dim)
    scaled_dot_product_s = scaled_dot_product_s + attn_mask
    scaled_dot_product_t = torch.matmul(t, t.transpose(-1, -2)) / math.sqrt(t_head_dim)
    scaled_dot_product_t = scaled_dot_product_t + attn_mask
    return loss_fct(F.log_softmax(scaled_dot_product_s, dim=-1), F.softmax(scaled_dot_product_t, dim=-1))


def reference_minilm(student32, teacher32, mask, mask_value=MINILM_MASK):
    """student32/teacher32: dicts query/key/value of float32 [B, S, hidden]. PaddleNLP's do_train loop."""
    kl_loss_func = nn.KLDivLoss(reduction="sum")
    attn_mask = ((mask == 0).double() * mask_value)[:, None, None, :]
    leaves = {name: grad_leaf(x) for name, x in student32.items()}
    parts = {}
    for name in ("query", "key", "value"):
        s = model_heads(leaves[name], MINILM_MODEL_HEADS_S)
        with torch.no_grad():
            t = model_heads(teacher32[name].double(), MINILM_MODEL_HEADS_T)
        parts[name] = calc_minilm_loss(kl_loss_func, s, t, attn_mask, RELATION_HEADS)
    batch_size, pad_seq_len = mask.shape
    divisor = RELATION_HEADS * pad_seq_len * batch_size
    loss = (parts["query"] + parts["key"] + parts["value"]) / divisor
    grads = torch.autograd.grad(loss, [leaves[n] for n in ("query", "key", "value")])
    return (loss.item(), {n: (p / divisor).item() for n, p in parts.items()},
            dict(zip(("query", "key", "value"), grads)))


def bloomberg_minilm(student32, teacher32, mask):
    """bloomberg/minilmv2.bb's _get_kl_loss reduction: crop to each length, / (A_r * len), mean over batch."""
    kl = nn.KLDivLoss(reduction="sum")
    total = 0.0
    for name in ("query", "key", "value"):
        loss = 0.0
        for b, n in enumerate(mask.sum(-1).tolist()):
            def relation(x, hidden):
                d_r = hidden // RELATION_HEADS
                x = x[b, :n].view(n, RELATION_HEADS, d_r).permute(1, 0, 2)
                return torch.matmul(x, x.transpose(-1, -2)) / math.sqrt(d_r)
            r_t = torch.softmax(relation(teacher32[name].double(), MINILM_HIDDEN_T), dim=-1)
            r_s = F.log_softmax(relation(student32[name].double(), MINILM_HIDDEN_S), dim=-1)
            loss += kl(r_s.reshape(-1, n), r_t.reshape(-1, n)) / (RELATION_HEADS * n)
        total += loss / mask.shape[0]
    return float(total)


def independent_minilm(student32, teacher32, mask):
    """Loops over floats: only keys j < length enter a softmax; gradient of R = X X^T / sqrt(d) by hand."""
    lengths = mask.sum(-1).tolist()
    divisor = RELATION_HEADS * SEQUENCE * BATCH
    total = 0.0
    parts, grads = {}, {}
    for name in ("query", "key", "value"):
        xs, xt = student32[name].double().tolist(), teacher32[name].double().tolist()
        d_s, d_t = MINILM_HIDDEN_S // RELATION_HEADS, MINILM_HIDDEN_T // RELATION_HEADS
        part = 0.0
        grad = [[[0.0] * MINILM_HIDDEN_S for _ in range(SEQUENCE)] for _ in range(BATCH)]
        for b in range(BATCH):
            n = lengths[b]
            for r in range(RELATION_HEADS):
                qs = [xs[b][i][r * d_s:(r + 1) * d_s] for i in range(SEQUENCE)]
                qt = [xt[b][i][r * d_t:(r + 1) * d_t] for i in range(SEQUENCE)]
                g = [[0.0] * SEQUENCE for _ in range(SEQUENCE)]  # dLoss / d(scaled score), keys < n only
                for i in range(SEQUENCE):  # every query, padded ones included
                    rs = [sum(a * c for a, c in zip(qs[i], qs[j])) / math.sqrt(d_s) for j in range(n)]
                    rt = [sum(a * c for a, c in zip(qt[i], qt[j])) / math.sqrt(d_t) for j in range(n)]
                    p_s, lse_s = softmax_row(rs)
                    p_t, lse_t = softmax_row(rt)
                    part += sum(pt * ((vt - lse_t) - (vs - lse_s)) for pt, vt, vs in zip(p_t, rt, rs))
                    for j in range(n):
                        g[i][j] = (p_s[j] - p_t[j]) / divisor
                for i in range(SEQUENCE):
                    for c in range(d_s):
                        grad[b][i][r * d_s + c] = sum((g[i][j] + g[j][i]) * qs[j][c] for j in range(SEQUENCE)) / math.sqrt(d_s)
        parts[name] = part / divisor
        grads[name] = torch.tensor(grad, dtype=torch.float64)
        total += part
    return total / divisor, parts, grads


# -------------------------------------------------------------------------------------- DistilBERT

def reference_distilbert_cosine(student32, teacher32, mask):
    cosine_loss_fct = nn.CosineEmbeddingLoss(reduction="mean")
    s_hidden_states = grad_leaf(student32)
    t_hidden_states = teacher32.double()
    mask = mask.bool().unsqueeze(-1).expand_as(s_hidden_states)  # the attention mask is bool in distiller.py
    assert s_hidden_states.size() == t_hidden_states.size()
    dim = s_hidden_states.size(-1)
    s_hidden_states_slct = torch.masked_select(s_hidden_states, mask).view(-1, dim)
    t_hidden_states_slct = torch.masked_select(t_hidden_states, mask).view(-1, dim)
    target = s_hidden_states_slct.new(s_hidden_states_slct.size(0)).fill_(1)
    loss = cosine_loss_fct(s_hidden_states_slct, t_hidden_states_slct, target)
    (grad,) = torch.autograd.grad(loss, s_hidden_states)
    return loss.item(), grad, s_hidden_states_slct.size(0)


def independent_distilbert_cosine(student32, teacher32, mask):
    s_all, t_all, m = student32.double().tolist(), teacher32.double().tolist(), mask.tolist()
    rows = [(b, i) for b in range(BATCH) for i in range(SEQUENCE) if m[b][i] == 1]
    n = len(rows)
    total = 0.0
    grad = [[[0.0] * DISTILBERT_HIDDEN for _ in range(SEQUENCE)] for _ in range(BATCH)]
    for b, i in rows:
        s, t = s_all[b][i], t_all[b][i]
        dot = sum(a * c for a, c in zip(s, t))
        ss = sum(a * a for a in s) + COSINE_EPSILON
        tt = sum(c * c for c in t) + COSINE_EPSILON
        denom = math.sqrt(ss * tt)
        cos = dot / denom
        total += 1.0 - cos
        # d cos / d s = t / denom - cos * s / ss; the loss is mean(1 - cos)
        grad[b][i] = [-(c / denom - cos * a / ss) / n for a, c in zip(s, t)]
    return total / n, torch.tensor(grad, dtype=torch.float64)


# -------------------------------------------------------------------------------------------- main

def main():
    generator = torch.Generator().manual_seed(SEED)
    mask = attention_mask()
    checks = []  # (what, difference)

    def check(what, a, b):
        difference = max_abs(a, b)
        checks.append((what, difference))
        assert difference < TOLERANCE, (what, difference)

    # --- TinyBERT attention: pre-softmax scores with BERT's additive mask, in float32
    additive = ((1 - mask).to(torch.float32) * -10000.0)[:, None, None, :]
    student_scores = randn(generator, BATCH, ATT_HEADS, SEQUENCE, SEQUENCE, scale=2.0) + additive
    teacher_scores = randn(generator, BATCH, ATT_HEADS, SEQUENCE, SEQUENCE, scale=2.0) + additive
    masked = (mask == 0)[:, None, None, :].expand_as(student_scores)
    assert (student_scores[~masked] > -50).all() and (student_scores[masked] < -9000).all()
    assert (teacher_scores[~masked] > -50).all() and (teacher_scores[masked] < -9000).all()
    att_loss, att_grad = reference_tinybert_attention(student_scores, teacher_scores)
    att_loss2, att_grad2 = independent_tinybert_attention(student_scores, teacher_scores)
    check("tinybert attention loss", att_loss, att_loss2)
    check("tinybert attention grad", att_grad, att_grad2)
    assert (att_grad[masked] == 0).all() and (att_grad[~masked] != 0).all()

    # --- TinyBERT hidden states through fit_dense
    student_hidden = randn(generator, BATCH, SEQUENCE, HIDDEN_S)
    teacher_hidden = randn(generator, BATCH, SEQUENCE, HIDDEN_T)
    kernel = randn(generator, HIDDEN_S, HIDDEN_T, scale=0.5)  # TensorFlow.js layout [in, out]
    bias = randn(generator, HIDDEN_T, scale=0.5)
    hid = reference_tinybert_hidden(student_hidden, teacher_hidden, kernel, bias)
    hid2 = independent_tinybert_hidden(student_hidden, teacher_hidden, kernel, bias)
    for what, a, b in zip(("loss", "grad student", "grad kernel", "grad bias"), hid, hid2):
        check(f"tinybert hidden {what}", a, b)

    # --- TinyBERT prediction layer
    student_logits = randn(generator, BATCH, CLASSES, scale=2.0)
    teacher_logits = randn(generator, BATCH, CLASSES, scale=3.0)
    predictions = []
    for temperature in TEMPERATURES:
        loss, grad = reference_tinybert_prediction(student_logits, teacher_logits, temperature)
        loss2, grad2 = independent_tinybert_prediction(student_logits, teacher_logits, temperature)
        check(f"tinybert prediction T={temperature} loss", loss, loss2)
        check(f"tinybert prediction T={temperature} grad", grad, grad2)
        predictions.append((temperature, loss, grad))

    # --- MiniLMv2 Q/K/V relations
    minilm_student = {n: randn(generator, BATCH, SEQUENCE, MINILM_HIDDEN_S) for n in ("query", "key", "value")}
    minilm_teacher = {n: randn(generator, BATCH, SEQUENCE, MINILM_HIDDEN_T) for n in ("query", "key", "value")}
    mini_loss, mini_parts, mini_grads = reference_minilm(minilm_student, minilm_teacher, mask)
    mini_loss2, mini_parts2, mini_grads2 = independent_minilm(minilm_student, minilm_teacher, mask)
    check("minilm loss", mini_loss, mini_loss2)
    for n in ("query", "key", "value"):
        check(f"minilm {n} part", mini_parts[n], mini_parts2[n])
        check(f"minilm {n} grad", mini_grads[n], mini_grads2[n])
    # -10000 (BERT's) instead of -1e9: the same numbers (exp underflows to 0 either way)
    bert_loss, _, bert_grads = reference_minilm(minilm_student, minilm_teacher, mask, mask_value=-10000.0)
    check("minilm loss, mask -10000 vs -1e9", mini_loss, bert_loss)
    for n in ("query", "key", "value"):
        check(f"minilm {n} grad, mask -10000 vs -1e9", mini_grads[n], bert_grads[n])
    bloomberg = bloomberg_minilm(minilm_student, minilm_teacher, mask)
    for n in ("query", "key", "value"):
        assert (mini_grads[n].abs().sum(-1) > 0).all(), n  # padded positions get gradient too

    # --- DistilBERT cosine loss
    distil_student = randn(generator, BATCH, SEQUENCE, DISTILBERT_HIDDEN)
    distil_teacher = randn(generator, BATCH, SEQUENCE, DISTILBERT_HIDDEN)
    cos_loss, cos_grad, cos_rows = reference_distilbert_cosine(distil_student, distil_teacher, mask)
    cos_loss2, cos_grad2 = independent_distilbert_cosine(distil_student, distil_teacher, mask)
    check("distilbert cosine loss", cos_loss, cos_loss2)
    check("distilbert cosine grad", cos_grad, cos_grad2)
    pad = (mask == 0).unsqueeze(-1).expand_as(cos_grad)
    assert (cos_grad[pad] == 0).all() and (cos_grad[~pad] != 0).all()

    mapping = []
    for teacher_layers, student_layers in LAYER_PAIRS:
        k, attention, hidden = tinybert_layer_mapping(teacher_layers, student_layers)
        mapping.append({"teacherLayers": teacher_layers, "studentLayers": student_layers, "layersPerBlock": k,
                        "attentionTeacherIndex": attention, "hiddenTeacherIndex": hidden})
    assert mapping[0]["attentionTeacherIndex"] == [1, 3] and mapping[0]["hiddenTeacherIndex"] == [0, 2, 4]

    # .tolist() of a float32 tensor gives its exact float32 values as doubles; float64 ones print in full
    f32 = f64 = lambda x: x.tolist()
    fixture = {
        "description": "Reference losses and student gradients for TinyBERT (attention, hidden, prediction, layer "
                       "mapping), MiniLMv2 Q/K/V relations and DistilBERT's cosine loss, each restated from its "
                       "official code (see the script's docstring for the quoted code). Inputs are float32 values "
                       "(torch.Generator seed in 'seed'); losses and gradients are float64 computed from them.",
        "source": "scripts/make_text_kd_fixture.py",
        "torch": torch.__version__,
        "seed": SEED,
        "tinybertLayerMapping": {
            "description": "TinyBERT task_distill.py: k = teacherLayers / studentLayers; student attention j "
                           "(0-based list index, layer j+1) takes teacher_atts[j*k + k - 1] (0-based list of the "
                           "teacher's layers); student hidden state i (0 = embeddings, list of studentLayers + 1) takes "
                           "teacher_reps[i*k] (0 = embeddings).",
            "cases": mapping,
        },
        "tinybertAttention": {
            "description": "One matched layer of TinyBERT's attention loss: scores are pre-softmax attention scores "
                           "including BERT's additive mask (1 - mask) * -10000. loss = mean over all "
                           "batch*heads*S*S entries of (where(s <= -100, 0, s) - where(t <= -100, 0, t))^2 "
                           "(nn.MSELoss). Masked keys are zeroed on both sides; padded query rows count.",
            "shapes": {"attentionMask": [BATCH, SEQUENCE], "studentScores": [BATCH, ATT_HEADS, SEQUENCE, SEQUENCE],
                       "teacherScores": [BATCH, ATT_HEADS, SEQUENCE, SEQUENCE]},
            "heads": ATT_HEADS, "lengths": LENGTHS, "attentionMask": mask.tolist(),
            "studentScores": f32(student_scores), "teacherScores": f32(teacher_scores),
            "loss": att_loss, "gradStudentScores": f64(att_grad),
        },
        "tinybertHidden": {
            "description": "One matched layer of TinyBERT's hidden-state loss: loss = mean over all batch*S*hiddenT "
                           "entries of (studentHidden @ fitDense.kernel + fitDense.bias - teacherHidden)^2 "
                           "(nn.MSELoss of fit_dense(student_rep), no mask). fitDense.kernel is in TensorFlow.js "
                           "layout [in, out] = [hiddenS, hiddenT], the transpose of torch's nn.Linear.weight.",
            "shapes": {"studentHidden": [BATCH, SEQUENCE, HIDDEN_S], "teacherHidden": [BATCH, SEQUENCE, HIDDEN_T],
                       "fitDense.kernel": [HIDDEN_S, HIDDEN_T], "fitDense.bias": [HIDDEN_T]},
            "hiddenS": HIDDEN_S, "hiddenT": HIDDEN_T,
            "studentHidden": f32(student_hidden), "teacherHidden": f32(teacher_hidden),
            "fitDense": {"kernel": f32(kernel), "bias": f32(bias)},
            "loss": hid[0], "gradStudentHidden": f64(hid[1]),
            "gradFitDense": {"kernel": f64(hid[2]), "bias": f64(hid[3])},
        },
        "tinybertPrediction": [
            {
                "description": f"TinyBERT's soft_cross_entropy(s / T, t / T) with T = {temperature:g}: "
                               "-sum(softmax(t/T) * log_softmax(s/T)) / (batch * classes), i.e. .mean() over all "
                               "elements, no T^2 factor, a cross-entropy (not KL).",
                "shapes": {"studentLogits": [BATCH, CLASSES], "teacherLogits": [BATCH, CLASSES]},
                "temperature": temperature,
                "studentLogits": f32(student_logits), "teacherLogits": f32(teacher_logits),
                "loss": loss, "gradStudentLogits": f64(grad),
            }
            for temperature, loss, grad in predictions
        ],
        "minilmRelation": {
            "description": "MiniLMv2 Q-Q, K-K, V-V relation loss as PaddleNLP computes it (calc_minilm_loss and "
                           "minilmv2/general_distill.py): each of query/key/value [B, S, hidden] is split into "
                           "relationHeads chunks of hidden/relationHeads; R = softmax(X_r X_r^T / sqrt(d_r) + m) "
                           "over keys, m = maskValue at masked keys; loss = sum over Q,K,V, batch, relation heads, "
                           "ALL S queries (padded ones too) and keys of R_T * log(R_T / R_S), divided by "
                           "relationHeads * S * batch. relationLosses are the three terms of that sum (each already "
                           "divided). alternativeLossBloomberg is bloomberg/minilmv2.bb's reduction (each sequence "
                           "cropped to its length, / (relationHeads * length), mean over batch): value only.",
            "shapes": {"attentionMask": [BATCH, SEQUENCE], "student.*": [BATCH, SEQUENCE, MINILM_HIDDEN_S],
                       "teacher.*": [BATCH, SEQUENCE, MINILM_HIDDEN_T]},
            "relationHeads": RELATION_HEADS, "hiddenS": MINILM_HIDDEN_S, "hiddenT": MINILM_HIDDEN_T,
            "maskValue": MINILM_MASK, "lengths": LENGTHS, "attentionMask": mask.tolist(),
            "student": {n: f32(x) for n, x in minilm_student.items()},
            "teacher": {n: f32(x) for n, x in minilm_teacher.items()},
            "loss": mini_loss, "relationLosses": mini_parts,
            "gradStudent": {n: f64(g) for n, g in mini_grads.items()},
            "alternativeLossBloomberg": bloomberg,
        },
        "distilbertCosine": {
            "description": "DistilBERT's loss_cos: the last hidden states' rows at attention_mask == 1 "
                           "(masked_select, view(-1, dim)), nn.CosineEmbeddingLoss(reduction='mean') with target 1: "
                           "loss = mean over those rows of 1 - s.t / sqrt((|s|^2 + 1e-12)(|t|^2 + 1e-12)). "
                           "Masked positions have zero gradient.",
            "shapes": {"attentionMask": [BATCH, SEQUENCE], "studentHidden": [BATCH, SEQUENCE, DISTILBERT_HIDDEN],
                       "teacherHidden": [BATCH, SEQUENCE, DISTILBERT_HIDDEN]},
            "lengths": LENGTHS, "attentionMask": mask.tolist(), "selectedRows": cos_rows,
            "studentHidden": f32(distil_student), "teacherHidden": f32(distil_teacher),
            "loss": cos_loss, "gradStudentHidden": f64(cos_grad),
        },
    }

    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in fixture.items()]
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    os.replace(tmp, OUT)

    width = max(len(what) for what, _ in checks)
    for what, difference in checks:
        print(f"  {what:{width}s}  max |difference| = {difference:.3e}")
    print(f"tinybert attention {att_loss:.10f}, hidden {hid[0]:.10f}, "
          f"prediction {', '.join(f'T={t:g}: {l:.10f}' for t, l, _ in predictions)}")
    print(f"minilm {mini_loss:.10f} (q {mini_parts['query']:.6f}, k {mini_parts['key']:.6f}, "
          f"v {mini_parts['value']:.6f}); bloomberg's reduction {bloomberg:.10f}")
    print(f"distilbert cosine {cos_loss:.10f} over {cos_rows} rows")
    print(f"layer mapping {[(m['teacherLayers'], m['studentLayers'], m['attentionTeacherIndex'], m['hiddenTeacherIndex']) for m in mapping]}")
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes); "
          f"worst cross-check difference {max(d for _, d in checks):.3e}")


if __name__ == "__main__":
    main()
