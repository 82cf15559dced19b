"""Self-training: the unlabelled losses on toy logits and the mean teacher's mechanics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gantransfer.errors import ConfigError
from gantransfer.losses.consistency import class_balance_loss, mean_teacher_consistency, pseudo_label_loss
from gantransfer.training.self_training import MeanTeacher, TeacherOptions

CONFIDENT = torch.tensor([[10.0, 0.0], [0.0, 10.0]])  # teacher: class 0, then class 1, both ~1.0
UNSURE = torch.tensor([[0.0, 0.0], [0.0, 0.0]])  # teacher: 0.5 / 0.5


def test_mean_teacher_consistency_is_the_squared_probability_distance_over_confident_images():
    student = torch.tensor([[0.0, 0.0], [0.0, 10.0]])  # disagrees on image 0 (0.5 vs ~1), agrees on image 1
    p = torch.sigmoid(torch.tensor(10.0))
    expected = ((0.5 - p) ** 2 + (0.5 - (1 - p)) ** 2) / 2  # image 0's distance, averaged over both images
    assert float(mean_teacher_consistency(student, CONFIDENT)) == pytest.approx(float(expected), rel=1e-5)
    assert float(mean_teacher_consistency(student, UNSURE, threshold=0.9)) == 0.0  # nobody passes the mask


def test_pseudo_label_loss_is_cross_entropy_towards_the_teachers_label():
    student = torch.tensor([[0.0, 0.0], [0.0, 10.0]])
    per_image = torch.nn.functional.cross_entropy(student, torch.tensor([0, 1]), reduction="none")
    assert float(pseudo_label_loss(student, CONFIDENT, 0.9)) == pytest.approx(float(per_image.mean()), rel=1e-6)
    assert float(pseudo_label_loss(student, UNSURE, 0.9)) == 0.0


def test_losses_treat_the_teacher_as_a_constant():
    teacher = CONFIDENT.clone().requires_grad_(True)
    student = torch.zeros(2, 2, requires_grad=True)
    (mean_teacher_consistency(student, teacher) + pseudo_label_loss(student, teacher, 0.5)).backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0


def test_class_balance_loss_is_lowest_for_a_balanced_batch():
    balanced = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    collapsed = torch.tensor([[5.0, 0.0], [5.0, 0.0]])
    assert float(class_balance_loss(balanced)) < float(class_balance_loss(collapsed))


class Recorder(nn.Module):
    """A one-weight network that remembers its last input."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.seen: torch.Tensor | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.seen = images.detach().clone()
        return torch.stack([images.mean(dim=(1, 2, 3)), -images.mean(dim=(1, 2, 3))], dim=1) * self.scale


def images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(4, 1, 8, 8, generator=generator) * 2 - 1


def test_student_and_teacher_each_see_their_own_augmented_view():
    student = Recorder()
    mean_teacher = MeanTeacher(student, TeacherOptions())
    batch = images()
    mean_teacher.loss(student, batch)
    seen = (student.seen, mean_teacher.teacher.seen)
    assert not torch.equal(seen[0], batch) and not torch.equal(seen[1], batch)
    assert not torch.equal(seen[0], seen[1])


def test_teacher_is_the_exponential_moving_average_of_the_student():
    student = Recorder()
    mean_teacher = MeanTeacher(student, TeacherOptions(decay=0.75))
    with torch.no_grad():
        student.scale.fill_(5.0)
    mean_teacher.update(student)
    assert float(mean_teacher.teacher.scale) == pytest.approx(0.75 * 1.0 + 0.25 * 5.0)
    assert not mean_teacher.teacher.scale.requires_grad


def test_a_frozen_student_weight_is_left_out_of_the_average():
    student = Recorder()
    student.scale.requires_grad_(False)
    mean_teacher = MeanTeacher(student, TeacherOptions(decay=0.3))
    with torch.no_grad():
        student.scale.fill_(5.0)  # were it averaged, the teacher would move to 3.8
    mean_teacher.update(student)
    assert float(mean_teacher.teacher.scale) == 1.0


@pytest.mark.parametrize("bad", [{"loss": "magic"}, {"decay": 1.0}, {"threshold": -0.1},
                                 {"weight": -1.0}, {"batch_size": 0}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ConfigError):
        TeacherOptions(**bad)
