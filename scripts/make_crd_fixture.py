#!/usr/bin/python3
"""Reference values for kdkit's CRD term, computed with PyTorch.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 scripts/make_crd_fixture.py
It rewrites test/fixtures/crd.json atomically (written to crd.json.tmp, then renamed).

CRDLoss, ContrastLoss, Embed and Normalize follow RepDistiller's crd/criterion.py, and
ContrastMemory its crd/memory.py (github.com/HobbitLong/RepDistiller), with three changes that
leave the arithmetic as it is:
  - the negatives are always the given `contrast_idx` (as train_student.py passes them from the
    dataset), so that kdkit can use the same ones; AliasMethod and .cuda() are left out;
  - the memory banks start from given values instead of torch.rand, and are exported;
  - everything is float64 (params included).
Two consecutive batches go through one CRDLoss: the second uses the normalisation constants Z the
first set, and the memory rows the first updated. There is no optimizer step between them, so the
embeddings are the same. Recorded per batch: the loss, its gradients with respect to the student
feature and the four embedding parameters (PyTorch layout: weight [out, in]), and both memory banks
after the batch's update. Tensors are nested lists.
"""
import json
import math
import os

import torch
from torch import nn

torch.set_default_dtype(torch.float64)
generator = torch.Generator().manual_seed(20261130)

eps = 1e-7


class CRDLoss(nn.Module):
    # crd/criterion.py CRDLoss, with the initial memory passed on to ContrastMemory.
    def __init__(self, opt, memory_v1, memory_v2):
        super(CRDLoss, self).__init__()
        self.embed_s = Embed(opt["s_dim"], opt["feat_dim"])
        self.embed_t = Embed(opt["t_dim"], opt["feat_dim"])
        self.contrast = ContrastMemory(opt["feat_dim"], opt["n_data"], opt["nce_k"], opt["nce_t"], opt["nce_m"], memory_v1, memory_v2)
        self.criterion_t = ContrastLoss(opt["n_data"])
        self.criterion_s = ContrastLoss(opt["n_data"])

    def forward(self, f_s, f_t, idx, contrast_idx=None):
        f_s = self.embed_s(f_s)
        f_t = self.embed_t(f_t)
        out_s, out_t = self.contrast(f_s, f_t, idx, contrast_idx)
        s_loss = self.criterion_s(out_s)
        t_loss = self.criterion_t(out_t)
        loss = s_loss + t_loss
        return loss


class ContrastLoss(nn.Module):
    # crd/criterion.py ContrastLoss, as it is.
    def __init__(self, n_data):
        super(ContrastLoss, self).__init__()
        self.n_data = n_data

    def forward(self, x):
        bsz = x.shape[0]
        m = x.size(1) - 1
        Pn = 1 / float(self.n_data)
        P_pos = x.select(1, 0)
        log_D1 = torch.div(P_pos, P_pos.add(m * Pn + eps)).log_()
        P_neg = x.narrow(1, 1, m)
        log_D0 = torch.div(P_neg.clone().fill_(m * Pn), P_neg.add(m * Pn + eps)).log_()
        loss = -(log_D1.sum(0) + log_D0.view(-1, 1).sum(0)) / bsz
        return loss


class Embed(nn.Module):
    # crd/criterion.py Embed, as it is (nn.Linear's default initialisation, from the global seed).
    def __init__(self, dim_in=1024, dim_out=128):
        super(Embed, self).__init__()
        self.linear = nn.Linear(dim_in, dim_out)
        self.l2norm = Normalize(2)

    def forward(self, x):
        x = x.view(x.shape[0], -1)
        x = self.linear(x)
        x = self.l2norm(x)
        return x


class Normalize(nn.Module):
    def __init__(self, power=2):
        super(Normalize, self).__init__()
        self.power = power

    def forward(self, x):
        norm = x.pow(self.power).sum(1, keepdim=True).pow(1.0 / self.power)
        out = x.div(norm)
        return out


class ContrastMemory(nn.Module):
    # crd/memory.py ContrastMemory: the memory given, idx always given, params in float64.
    def __init__(self, inputSize, outputSize, K, T, momentum, memory_v1, memory_v2):
        super(ContrastMemory, self).__init__()
        self.nLem = outputSize
        self.K = K
        self.register_buffer("params", torch.tensor([K, T, -1, -1, momentum]))
        self.register_buffer("memory_v1", memory_v1.clone())
        self.register_buffer("memory_v2", memory_v2.clone())

    def forward(self, v1, v2, y, idx):
        K = int(self.params[0].item())
        T = self.params[1].item()
        Z_v1 = self.params[2].item()
        Z_v2 = self.params[3].item()
        momentum = self.params[4].item()
        batchSize = v1.size(0)
        outputSize = self.memory_v1.size(0)
        inputSize = self.memory_v1.size(1)

        weight_v1 = torch.index_select(self.memory_v1, 0, idx.view(-1)).detach()
        weight_v1 = weight_v1.view(batchSize, K + 1, inputSize)
        out_v2 = torch.bmm(weight_v1, v2.view(batchSize, inputSize, 1))
        out_v2 = torch.exp(torch.div(out_v2, T))
        weight_v2 = torch.index_select(self.memory_v2, 0, idx.view(-1)).detach()
        weight_v2 = weight_v2.view(batchSize, K + 1, inputSize)
        out_v1 = torch.bmm(weight_v2, v1.view(batchSize, inputSize, 1))
        out_v1 = torch.exp(torch.div(out_v1, T))

        if Z_v1 < 0:
            self.params[2] = out_v1.mean() * outputSize
            Z_v1 = self.params[2].clone().detach().item()
        if Z_v2 < 0:
            self.params[3] = out_v2.mean() * outputSize
            Z_v2 = self.params[3].clone().detach().item()

        out_v1 = torch.div(out_v1, Z_v1).contiguous()
        out_v2 = torch.div(out_v2, Z_v2).contiguous()

        with torch.no_grad():
            l_pos = torch.index_select(self.memory_v1, 0, y.view(-1))
            l_pos.mul_(momentum)
            l_pos.add_(torch.mul(v1, 1 - momentum))
            l_norm = l_pos.pow(2).sum(1, keepdim=True).pow(0.5)
            updated_v1 = l_pos.div(l_norm)
            self.memory_v1.index_copy_(0, y, updated_v1)

            ab_pos = torch.index_select(self.memory_v2, 0, y.view(-1))
            ab_pos.mul_(momentum)
            ab_pos.add_(torch.mul(v2, 1 - momentum))
            ab_norm = ab_pos.pow(2).sum(1, keepdim=True).pow(0.5)
            updated_v2 = ab_pos.div(ab_norm)
            self.memory_v2.index_copy_(0, y, updated_v2)

        return out_v1, out_v2


opt = {"n_data": 20, "s_dim": 6, "t_dim": 5, "feat_dim": 4, "nce_k": 7, "nce_t": 0.07, "nce_m": 0.5}
batch = 5

# ContrastMemory's initialisation, uniform in [-stdv, stdv], drawn here and exported.
stdv = 1.0 / math.sqrt(opt["feat_dim"] / 3)
memory_v1 = torch.rand(opt["n_data"], opt["feat_dim"], generator=generator) * (2 * stdv) - stdv
memory_v2 = torch.rand(opt["n_data"], opt["feat_dim"], generator=generator) * (2 * stdv) - stdv
torch.manual_seed(20261131)
criterion = CRDLoss(opt, memory_v1, memory_v2)

# Batch indices: the second batch repeats two samples of the first (their memory rows were just
# updated) and draws negatives among the first batch's samples too.
indices = [torch.tensor([3, 17, 0, 9, 12]), torch.tensor([17, 5, 12, 19, 1])]


def negatives(idx):
    rows = []
    for i in idx.tolist():
        others = [j for j in range(opt["n_data"]) if j != i]
        pick = torch.randperm(len(others), generator=generator)[: opt["nce_k"]]
        rows.append([i] + [others[p] for p in pick.tolist()])
    return torch.tensor(rows)


contrast = [negatives(idx) for idx in indices]
features = [
    (torch.randn(batch, opt["s_dim"], generator=generator), torch.randn(batch, opt["t_dim"], generator=generator) * 2)
    for _ in indices
]

parameters = {
    "studentWeight": criterion.embed_s.linear.weight,
    "studentBias": criterion.embed_s.linear.bias,
    "teacherWeight": criterion.embed_t.linear.weight,
    "teacherBias": criterion.embed_t.linear.bias,
}
initial = {name: value.detach().tolist() for name, value in parameters.items()}

batches = []
for idx, contrast_idx, (f_s, f_t) in zip(indices, contrast, features):
    student = f_s.clone().requires_grad_(True)
    for value in parameters.values():
        value.grad = None
    loss = criterion(student, f_t, idx, contrast_idx)
    loss.backward()
    batches.append(
        {
            "indices": idx.tolist(),
            "contrastIdx": contrast_idx.tolist(),
            "studentFeature": f_s.tolist(),
            "teacherFeature": f_t.tolist(),
            "loss": loss.item(),
            "studentFeatureGrad": student.grad.tolist(),
            "grads": {name: value.grad.tolist() for name, value in parameters.items()},
            "z": [criterion.contrast.params[2].item(), criterion.contrast.params[3].item()],
            "memoryStudent": criterion.contrast.memory_v1.tolist(),
            "memoryTeacher": criterion.contrast.memory_v2.tolist(),
        }
    )

fixture = {
    "source": "scripts/make_crd_fixture.py (RepDistiller crd/criterion.py and crd/memory.py, float64)",
    "nData": opt["n_data"],
    "studentDim": opt["s_dim"],
    "teacherDim": opt["t_dim"],
    "featureDim": opt["feat_dim"],
    "negatives": opt["nce_k"],
    "temperature": opt["nce_t"],
    "momentum": opt["nce_m"],
    "initial": {**initial, "memoryStudent": memory_v1.tolist(), "memoryTeacher": memory_v2.tolist()},
    "batches": batches,
}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "crd.json")
with open(path + ".tmp", "w") as f:
    json.dump(fixture, f, indent=1)
    f.write("\n")
os.replace(path + ".tmp", path)
print(f"wrote {os.path.normpath(path)}: losses {[round(b['loss'], 6) for b in batches]}, Z {batches[0]['z']}")
