#!/usr/bin/python3
"""Reference values for kdkit's loss tests, computed with PyTorch.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 scripts/make_fixtures.py
It rewrites two files, each atomically (written to <path>.tmp, then renamed):
  test/fixtures/losses.json          KD and cross-entropy (global seed 20261128, drawn first)
  test/fixtures/feature_losses.json  DKD, hint, attention transfer, RKD and SP, drawn afterwards
                                     from a separate torch.Generator seeded with 20261129, so that
                                     adding them left losses.json byte-identical
  test/fixtures/dist_losses.json     DIST, drawn last from its own torch.Generator seeded with
                                     20261130, so that adding it left both files above unchanged
Everything is float64. Tensors in feature_losses.json are flat row-major lists with a separate
shape; 4-d features are NHWC (channels last), and every gradient has its input's layout.
The tests never write fixtures; a missing expected value fails them.
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


def write_fixture(name, out):
    path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", name)
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(path + ".tmp", path)
    return os.path.normpath(path)


out = {"generator": "scripts/make_fixtures.py", "torch": torch.__version__, "cases": cases}
path = write_fixture("losses.json", out)
print("wrote", path, "with", len(cases), "cases")


# ---------------------------------------------------------------------------------------------
# Feature and relation losses -> test/fixtures/feature_losses.json.
# Drawn from their own generator, after everything above, so losses.json does not change.
# ---------------------------------------------------------------------------------------------

gen = torch.Generator().manual_seed(20261129)


def randn(*shape, scale=1.0):
    return torch.randn(*shape, generator=gen) * scale


def flat(t):
    return t.detach().reshape(-1).tolist()


def nchw(f):
    # The fixture stores 4-d features NHWC; the official PyTorch code assumes NCHW.
    return f.permute(0, 3, 1, 2) if f.dim() == 4 else f


def dkd_parts(logits_student, logits_teacher, target, temperature):
    # Zhao et al. 2022, as mdistiller's dkd_loss (mdistiller/distillers/DKD.py), which returns
    # alpha * tckd + beta * nckd; the two terms are returned separately here. kl_div
    # size_average=False there is reduction="sum" here.
    gt_mask = torch.zeros_like(logits_student).scatter_(1, target.reshape(-1).unsqueeze(1), 1).bool()
    other_mask = torch.ones_like(logits_student).scatter_(1, target.reshape(-1).unsqueeze(1), 0).bool()

    def cat_mask(t):
        return torch.cat([(t * gt_mask).sum(1, keepdim=True), (t * other_mask).sum(1, keepdim=True)], dim=1)

    pred_student = cat_mask(F.softmax(logits_student / temperature, dim=1))
    pred_teacher = cat_mask(F.softmax(logits_teacher / temperature, dim=1))
    tckd = (
        F.kl_div(torch.log(pred_student), pred_teacher, reduction="sum")
        * temperature**2
        / target.shape[0]
    )
    pred_teacher_part2 = F.softmax(logits_teacher / temperature - 1000.0 * gt_mask, dim=1)
    log_pred_student_part2 = F.log_softmax(logits_student / temperature - 1000.0 * gt_mask, dim=1)
    nckd = (
        F.kl_div(log_pred_student_part2, pred_teacher_part2, reduction="sum")
        * temperature**2
        / target.shape[0]
    )
    return tckd, nckd


def hint_loss(f_s, f_t):
    # Romero et al. 2015 (FitNets), as RepDistiller's HintLoss (distiller_zoo/FitNet.py):
    # nn.MSELoss(), the mean over all elements (layout-independent).
    return torch.nn.MSELoss()(f_s, f_t)


def at_loss(f_s, f_t, p):
    # Zagoruyko & Komodakis 2017, as RepDistiller's Attention (distiller_zoo/AT.py) for equal
    # spatial sizes (no adaptive pooling): at(f) = F.normalize(f.pow(p).mean(1).view(N, -1))
    # on NCHW f, i.e. the mean over channels; loss = (at(f_s) - at(f_t)).pow(2).mean().
    def at(f):
        f = nchw(f)
        return F.normalize(f.pow(p).mean(1).reshape(f.size(0), -1))

    return (at(f_s) - at(f_t)).pow(2).mean()


def pdist(e, squared=False, eps=1e-12):
    # lenscloth/RKD metric/utils.py, verbatim.
    e_square = e.pow(2).sum(dim=1)
    prod = e @ e.t()
    res = (e_square.unsqueeze(1) + e_square.unsqueeze(0) - 2 * prod).clamp(min=eps)
    if not squared:
        res = res.sqrt()
    res = res.clone()
    res[range(len(e)), range(len(e))] = 0
    return res


def rkd_distance(student, teacher):
    # Park et al. 2019, as lenscloth/RKD metric/loss.py RkdDistance (its reduction
    # 'elementwise_mean' is the old name of "mean").
    with torch.no_grad():
        t_d = pdist(teacher, squared=False)
        t_d = t_d / t_d[t_d > 0].mean()
    d = pdist(student, squared=False)
    d = d / d[d > 0].mean()
    return F.smooth_l1_loss(d, t_d, reduction="mean")


def rkd_angle(student, teacher):
    # Park et al. 2019, as lenscloth/RKD metric/loss.py RKdAngle.
    with torch.no_grad():
        td = teacher.unsqueeze(0) - teacher.unsqueeze(1)
        norm_td = F.normalize(td, p=2, dim=2)
        t_angle = torch.bmm(norm_td, norm_td.transpose(1, 2)).view(-1)
    sd = student.unsqueeze(0) - student.unsqueeze(1)
    norm_sd = F.normalize(sd, p=2, dim=2)
    s_angle = torch.bmm(norm_sd, norm_sd.transpose(1, 2)).view(-1)
    return F.smooth_l1_loss(s_angle, t_angle, reduction="mean")


def sp_loss(f_s, f_t):
    # Tung & Mori 2019, as RepDistiller's Similarity.similarity_loss (distiller_zoo/SP.py):
    # G = normalize(F F^T) per row, loss = sum((G_t - G_s)^2) / b^2 (a 1-element tensor there).
    f_s, f_t = nchw(f_s), nchw(f_t)
    bsz = f_s.shape[0]
    f_s = f_s.reshape(bsz, -1)
    f_t = f_t.reshape(bsz, -1)
    G_s = F.normalize(torch.mm(f_s, torch.t(f_s)))
    G_t = F.normalize(torch.mm(f_t, torch.t(f_t)))
    G_diff = G_t - G_s
    return (G_diff * G_diff).view(-1, 1).sum(0) / (bsz * bsz)


def dkd_case(batch, classes, alpha, beta, temperature, scale=1.0):
    student = randn(batch, classes, scale=scale).requires_grad_(True)
    teacher = randn(batch, classes, scale=scale)
    labels = torch.randint(0, classes, (batch,), generator=gen)
    tckd, nckd = dkd_parts(student, teacher, labels, temperature)
    loss = alpha * tckd + beta * nckd
    (grad,) = torch.autograd.grad(loss, student)
    return {
        "alpha": alpha, "beta": beta, "temperature": temperature, "shape": [batch, classes],
        "studentLogits": flat(student), "teacherLogits": flat(teacher), "labels": labels.tolist(),
        "tckd": tckd.item(), "nckd": nckd.item(), "loss": loss.item(), "gradStudent": flat(grad),
    }


def hint_case(shape):
    student = randn(*shape).requires_grad_(True)
    teacher = randn(*shape, scale=1.5)
    loss = hint_loss(student, teacher)
    (grad,) = torch.autograd.grad(loss, student)
    return {"shape": list(shape), "student": flat(student), "teacher": flat(teacher),
            "loss": loss.item(), "gradStudent": flat(grad)}


def attention_case(p, student_shape, teacher_shape, nonnegative=False):
    student, teacher = randn(*student_shape), randn(*teacher_shape, scale=2.0)
    if nonnegative:  # post-ReLU features, for p = 1 (f.pow(1) is just f)
        student, teacher = F.relu(student), F.relu(teacher)
    student.requires_grad_(True)
    loss = at_loss(student, teacher, p)
    (grad,) = torch.autograd.grad(loss, student)
    return {"p": p, "studentShape": list(student_shape), "teacherShape": list(teacher_shape),
            "student": flat(student), "teacher": flat(teacher), "loss": loss.item(), "gradStudent": flat(grad)}


def rkd_case(student_shape, teacher_shape, distance_weight, angle_weight, duplicate_rows=None):
    student, teacher = randn(*student_shape), randn(*teacher_shape, scale=3.0)
    if duplicate_rows is not None:
        # The same two rows repeated in both: their distance is sqrt(eps) = 1e-6 before the
        # diagonal is zeroed (and counts as "positive" in the mean); their difference vector is
        # 0 and normalizes to 0 in both angle tensors, so the gradient stays finite.
        i, j = duplicate_rows
        student[j], teacher[j] = student[i], teacher[i]
    student.requires_grad_(True)
    distance = rkd_distance(student, teacher)
    angle = rkd_angle(student, teacher)
    loss = distance_weight * distance + angle_weight * angle
    (grad,) = torch.autograd.grad(loss, student)
    return {
        "distanceWeight": distance_weight, "angleWeight": angle_weight,
        "studentShape": list(student_shape), "teacherShape": list(teacher_shape),
        "student": flat(student), "teacher": flat(teacher),
        "distance": distance.item(), "angle": angle.item(), "loss": loss.item(), "gradStudent": flat(grad),
    }


def sp_case(student_shape, teacher_shape):
    student = randn(*student_shape).requires_grad_(True)
    teacher = randn(*teacher_shape, scale=2.0)
    loss = sp_loss(student, teacher)
    (grad,) = torch.autograd.grad(loss, student)
    return {"studentShape": list(student_shape), "teacherShape": list(teacher_shape),
            "student": flat(student), "teacher": flat(teacher), "loss": loss.item(), "gradStudent": flat(grad)}


features = {
    "generator": "scripts/make_fixtures.py",
    "torch": torch.__version__,
    "dkd": [
        dkd_case(batch=4, classes=3, alpha=1.0, beta=8.0, temperature=4.0),
        dkd_case(batch=16, classes=10, alpha=1.0, beta=8.0, temperature=4.0, scale=5.0),
        dkd_case(batch=8, classes=10, alpha=0.5, beta=2.0, temperature=1.0),
        dkd_case(batch=1, classes=5, alpha=1.0, beta=8.0, temperature=2.0),
    ],
    "hint": [
        hint_case([4, 8]),
        hint_case([2, 3, 3, 5]),
    ],
    "attention": [
        attention_case(2, [2, 4, 4, 3], [2, 4, 4, 8]),
        attention_case(2, [3, 5, 6, 4], [3, 5, 6, 4]),
        attention_case(1, [2, 3, 4, 5], [2, 3, 4, 7], nonnegative=True),
    ],
    "rkd": [
        rkd_case([6, 5], [6, 8], distance_weight=25.0, angle_weight=50.0),
        rkd_case([4, 3], [4, 3], distance_weight=1.0, angle_weight=2.0),
        rkd_case([5, 4], [5, 6], distance_weight=25.0, angle_weight=50.0, duplicate_rows=(1, 3)),
    ],
    "sp": [
        sp_case([4, 3, 3, 2], [4, 3, 3, 5]),
        sp_case([6, 7], [6, 9]),
    ],
}
path = write_fixture("feature_losses.json", features)
counts = ", ".join(f"{len(features[k])} {k}" for k in ("dkd", "hint", "attention", "rkd", "sp"))
print("wrote", path, "with", counts, "cases")


# ---------------------------------------------------------------------------------------------
# DIST -> test/fixtures/dist_losses.json.
# Drawn from a third generator, after everything above, so neither file above changes.
# ---------------------------------------------------------------------------------------------

dist_gen = torch.Generator().manual_seed(20261130)


# Huang et al. 2022, "Knowledge Distillation from A Stronger Teacher", copied from the official
# code: hunto/DIST_KD, classification/lib/models/losses/dist_kd.py (the same functions are in
# hunto/image_classification_sota and hunto/LocalMamba, lib/models/losses/dist_kd.py).
def cosine_similarity(a, b, eps=1e-8):
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def pearson_correlation(a, b, eps=1e-8):
    return cosine_similarity(a - a.mean(1).unsqueeze(1),
                             b - b.mean(1).unsqueeze(1), eps)


def inter_class_relation(y_s, y_t):
    return 1 - pearson_correlation(y_s, y_t).mean()


def intra_class_relation(y_s, y_t):
    return inter_class_relation(y_s.transpose(0, 1), y_t.transpose(0, 1))


def dist_parts(z_s, z_t, tau):
    # DIST.forward without its final beta * inter + gamma * intra, so both parts can be checked.
    y_s = (z_s / tau).softmax(dim=1)
    y_t = (z_t / tau).softmax(dim=1)
    inter_loss = tau**2 * inter_class_relation(y_s, y_t)
    intra_loss = tau**2 * intra_class_relation(y_s, y_t)
    return inter_loss, intra_loss


def dist_case(batch, classes, beta, gamma, temperature, student_scale=1.0, teacher_scale=1.0):
    student = (torch.randn(batch, classes, generator=dist_gen) * student_scale).requires_grad_(True)
    teacher = torch.randn(batch, classes, generator=dist_gen) * teacher_scale
    inter, intra = dist_parts(student, teacher, temperature)
    loss = beta * inter + gamma * intra
    (grad,) = torch.autograd.grad(loss, student)
    return {
        "beta": beta, "gamma": gamma, "temperature": temperature, "shape": [batch, classes],
        "studentLogits": flat(student), "teacherLogits": flat(teacher),
        "inter": inter.item(), "intra": intra.item(), "loss": loss.item(), "gradStudent": flat(grad),
    }


dist = {
    "generator": "scripts/make_fixtures.py",
    "torch": torch.__version__,
    "dist": [
        dist_case(batch=4, classes=3, beta=1.0, gamma=1.0, temperature=1.0),
        dist_case(batch=8, classes=10, beta=1.0, gamma=1.0, temperature=4.0, student_scale=3.0, teacher_scale=3.0),
        dist_case(batch=16, classes=10, beta=2.0, gamma=0.5, temperature=1.0, student_scale=2.0, teacher_scale=2.0),
        # A much stronger teacher: its logits spread 10x the student's, so its softmax is near one-hot.
        dist_case(batch=32, classes=10, beta=1.0, gamma=1.0, temperature=1.0, teacher_scale=10.0),
        dist_case(batch=8, classes=100, beta=2.0, gamma=2.0, temperature=4.0, student_scale=2.0, teacher_scale=20.0),
        # One sample: each class column has a single entry, centred to 0, so intra is tau^2 and
        # has no gradient (PyTorch's norm has gradient 0 at 0).
        dist_case(batch=1, classes=5, beta=1.0, gamma=1.0, temperature=2.0, student_scale=2.0, teacher_scale=2.0),
    ],
}
path = write_fixture("dist_losses.json", dist)
print("wrote", path, "with", len(dist["dist"]), "dist cases")
