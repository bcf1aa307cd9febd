#!/usr/bin/python3
"""Reference values for kdkit's loss tests, computed with PyTorch.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 scripts/make_fixtures.py
It rewrites test/fixtures/losses.json. The tests never write fixtures; a missing expected value
fails them.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261128)
torch.set_default_dtype(torch.float64)


def kd_loss(student_logits, teacher_logits, temperature):
    # Hinton et al. 2015, as in mdistiller's kd_loss and torchdistill's KDLoss:
    # T^2 * KL(softmax(t/T) || softmax(s/T)), summed over classes, averaged over the batch.
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    teacher_probs = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_student, teacher_probs, reduction="batchmean") * temperature**2


def case(batch, classes, temperature, scale):
    student = (torch.randn(batch, classes) * scale).requires_grad_(True)
    teacher = (torch.randn(batch, classes) * scale * 1.5).requires_grad_(True)
    labels = torch.randint(0, classes, (batch,))
    kd = kd_loss(student, teacher, temperature)
    kd_grad, kd_grad_teacher = torch.autograd.grad(kd, (student, teacher))
    ce = F.cross_entropy(student, labels)
    (ce_grad,) = torch.autograd.grad(ce, student)
    combined = 0.9 * kd_loss(student, teacher, temperature) + 0.1 * F.cross_entropy(student, labels)
    return {
        "temperature": temperature,
        "studentLogits": student.detach().tolist(),
        "teacherLogits": teacher.detach().tolist(),
        "labels": labels.tolist(),
        "kd": kd.item(),
        "kdGradStudent": kd_grad.tolist(),
        "kdGradTeacher": kd_grad_teacher.tolist(),
        "ce": ce.item(),
        "ceGradStudent": ce_grad.tolist(),
        "kd0.9_ce0.1": combined.item(),
    }


cases = [
    case(batch=4, classes=3, temperature=1.0, scale=1.0),
    case(batch=8, classes=10, temperature=2.0, scale=3.0),
    case(batch=16, classes=10, temperature=4.0, scale=5.0),
    case(batch=1, classes=5, temperature=10.0, scale=2.0),
    case(batch=32, classes=100, temperature=4.0, scale=8.0),
]
out = {"generator": "scripts/make_fixtures.py", "torch": torch.__version__, "cases": cases}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "losses.json")
with open(path + ".tmp", "w") as f:
    json.dump(out, f, indent=1)
os.replace(path + ".tmp", path)
print("wrote", os.path.normpath(path), "with", len(cases), "cases")
