"""The checks of chapters 01-03's exercises (registered in ``checks``; see its docstring)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .checks import NotYet, choice, close, mapping, matches, number, register, tensor, trained
from .models import ConvAutoencoder, MLPAutoencoder


def _splits(context: dict):
    data = context.get("data")
    if data is None or not hasattr(data, "train"):
        raise ValueError("this check needs data=digits (the chapter's Splits) from the cell")
    return data


def _mse(model: nn.Module, x: torch.Tensor) -> float:
    from .training import predict

    return F.mse_loss(predict(model, x), x).item()


def _is_linear_autoencoder(model: MLPAutoencoder, latent_dim: int) -> bool:
    layers = [*model.encoder, *model.decoder]
    linear = [m for m in layers if isinstance(m, nn.Linear)]
    squashing = [m for m in layers if isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh))]
    return len(linear) == 2 and not squashing and model.latent_dim == latent_dim


def subspace_share(w: torch.Tensor, components: torch.Tensor) -> float:
    """How much of the column space of ``w`` (D, k) lies in the row space of orthonormal ``components`` (k, D)."""
    q, _ = torch.linalg.qr(w.double())
    return ((components.double() @ q) ** 2).sum().item() / w.shape[1]


# --------------------------------------------------------------------------- 01

@register("01.1", "a dict with 'model' (the trained pair), 'train_mse', 'test_mse', 'subspace_share' and "
                  "'below_pca' (a letter)")
def _linear_is_pca(answer, context, strict):
    from .baselines import PCAReconstructor

    digits = _splits(context)
    a = mapping(answer, ("model", "train_mse", "test_mse", "subspace_share", "below_pca"))
    model = trained(a["model"], "'model'", MLPAutoencoder, strict=strict)
    if not _is_linear_autoencoder(model, 32):
        raise NotYet("'model' should be the linear autoencoder with a 32-number code (no ReLU, no sigmoid): "
                     "the exercise is about what a network without any non-linearity learns.")
    close(number(a["train_mse"], "'train_mse'"), _mse(model, digits.train.x), "'train_mse'", rel=0.02)
    close(number(a["test_mse"], "'test_mse'"), _mse(model, digits.test.x), "'test_mse'", rel=0.02)
    pca = PCAReconstructor(32).fit(digits.train.x)
    share = subspace_share(model.decoder[0].weight.detach().cpu(), torch.as_tensor(pca.pca.components_))
    close(number(a["subspace_share"], "'subspace_share'"), share, "'subspace_share'", abs_=0.03)
    if choice(a["below_pca"], {"a": "", "b": "", "c": ""}, "'below_pca'") != "b":
        raise NotYet("'below_pca': think about what PCA minimises, and over which family of maps.")
    if strict and share < 0.8:
        raise NotYet("the decoder's subspace is still far from PCA's: train for the chapter's epochs "
                     "(cfg.num_epochs) and measure again.")
    return f"Your linear autoencoder's decoder spans {share:.0%} of PCA's subspace."


@register("01.2", "a dict with 'runs' (three trained pairs), 'test_mse' (three numbers), 'pca_test_mse' "
                  "and 'gap_beyond_spread' (a letter)")
def _seeds(answer, context, strict):
    from .baselines import PCAReconstructor

    digits = _splits(context)
    a = mapping(answer, ("runs", "test_mse", "pca_test_mse", "gap_beyond_spread"))
    runs, errors = a["runs"], a["test_mse"]
    if not (isinstance(runs, (list, tuple)) and len(runs) == 3 and isinstance(errors, (list, tuple))
            and len(errors) == 3):
        raise NotYet("'runs' and 'test_mse' should each hold three entries, one per seed.")
    models = [trained(r, f"'runs'[{i}]", MLPAutoencoder, strict=strict) for i, r in enumerate(runs)]
    if any(m.latent_dim != 32 or not any(isinstance(x, nn.ReLU) for x in m.encoder) for m in models):
        raise NotYet("every run should be the chapter's autoencoder 784-512-32 (recipes.bottleneck_autoencoder); "
                     "only the seed changes.")
    first = [m.encoder[1].weight.detach().cpu() for m in models]
    if any(torch.equal(first[i], first[j]) for i in range(3) for j in range(i + 1, 3)):
        raise NotYet("two runs are the same model: give each its own seed (cfg.replace(seed=...)).")
    measured = [_mse(m, digits.test.x) for m in models]
    for i, (value, reference) in enumerate(zip(errors, measured)):
        close(number(value, f"'test_mse'[{i}]"), reference, f"'test_mse'[{i}]", rel=0.01)
    pca = PCAReconstructor(32).fit(digits.train.x)
    pca_mse = F.mse_loss(pca(digits.test.x), digits.test.x).item()
    close(number(a["pca_test_mse"], "'pca_test_mse'"), pca_mse, "'pca_test_mse'", rel=0.01)
    spread = max(measured) - min(measured)
    gap = abs(sum(measured) / 3 - pca_mse)
    right = "a" if gap > spread else "b"
    if choice(a["gap_beyond_spread"], {"a": "", "b": ""}, "'gap_beyond_spread'") != right:
        raise NotYet("'gap_beyond_spread': put the two numbers side by side: the largest minus the smallest "
                     "of your three errors, and the distance from their mean to PCA's.")
    return f"The seeds moved the test MSE by {spread:.5f}; PCA is {gap:.5f} away."


@register("01.3", "a dict with 'model' (the trained pair), 'best_epoch' (an int), 'gap_few' and 'gap_all' "
                  "(numbers) and 'gap_means' (a letter)")
def _few_images(answer, context, strict):
    from .training import History

    reference = context.get("reference")
    if not isinstance(reference, History):
        raise ValueError("this check needs reference=the History of the chapter's autoencoder from the cell")
    a = mapping(answer, ("model", "best_epoch", "gap_few", "gap_all", "gap_means"))
    model = trained(a["model"], "'model'", MLPAutoencoder, strict=strict)
    history = a["model"][1]
    if model.latent_dim != 32 or history.epochs < 3:
        raise NotYet("'model' should be the chapter's autoencoder trained on a few digits for the exercise's "
                     "epochs (recipes.few_images_autoencoder).")
    val = history.val_loss
    best = min(range(len(val)), key=val.__getitem__)
    given = a["best_epoch"]
    if isinstance(given, bool) or not isinstance(given, int) or given != best:
        raise NotYet("'best_epoch' is the epoch whose validation loss is lowest (history.val_loss[0] is the "
                     "loss before training, so its index is the epoch): not the training loss, not the first.")
    few, full = (h.val_loss[-1] / h.train_loss[-1] for h in (history, reference))
    close(number(a["gap_few"], "'gap_few'"), few, "'gap_few'", rel=0.01)
    close(number(a["gap_all"], "'gap_all'"), full, "'gap_all'", rel=0.01)
    if choice(a["gap_means"], {"a": "", "b": "", "c": ""}, "'gap_means'") != "c":
        raise NotYet("'gap_means': the two losses are measured on different digits; what differs between them?")
    if strict and not few > 1.5 * full:
        raise NotYet("with a few hundred digits the validation loss should end far above the training loss: "
                     "train with recipes.few_images_autoencoder and the sizes of the exercise.")
    return f"Validation loss over training loss: {few:.2f} for the few digits, {full:.2f} for the chapter's."


# --------------------------------------------------------------------------- 02

def _is_wide_linear(model: MLPAutoencoder) -> bool:
    return _is_linear_autoencoder(model, 1024)


@register("02.1", "a dict with 'model' (the trained pair), 'unreconstructed' (a dict: 'clean input' and "
                  "'masked input', each a dict from kind of input to share) and 'why' (a letter)")
def _noise_against_copying(answer, context, strict):
    from .metrics import unreconstructed_share
    from .training import predict

    unseen, reference = context.get("unseen"), context.get("reference")
    if not isinstance(unseen, dict) or not isinstance(reference, MLPAutoencoder):
        raise ValueError("this check needs unseen= (kind -> images) and reference= (the chapter's wide linear model)")
    a = mapping(answer, ("model", "unreconstructed", "why"))
    model = trained(a["model"], "'model'", MLPAutoencoder, strict=strict)
    if not _is_wide_linear(model) or model is reference:
        raise NotYet("'model' should be a new wide linear model 784-1024-784 trained on masked digits "
                     "(recipes.wide_linear with transform=Noise('masking', 0.3)).")
    shares = {name: {kind: unreconstructed_share(x, predict(net, x).clamp(0, 1)) for kind, x in unseen.items()}
              for name, net in (("clean input", reference), ("masked input", model))}
    matches(a["unreconstructed"], shares, "'unreconstructed'", rel=1e-3, abs_=1e-5)
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "b":
        raise NotYet("'why': what would the model's output be if it copied a masked digit, and what does the "
                     "loss compare it with?")
    noise = [k for k in unseen if "noise" in k]
    if strict and noise and not shares["masked input"][noise[0]] > shares["clean input"][noise[0]]:
        raise NotYet("in a full run the model trained on masked digits should copy uniform noise less than the "
                     "chapter's: train it with the chapter's recipe and the masking transform.")
    return ""


@register("02.2", "a dict with 'train_mse' and 'test_mse' (each a dict: 'AE' and 'PCA') and 'why' (a letter)")
def _train_against_test(answer, context, strict):
    from .baselines import PCAReconstructor

    digits, model = _splits(context), context.get("model")
    if not isinstance(model, MLPAutoencoder):
        raise ValueError("this check needs model= (the sweep's autoencoder) from the cell")
    a = mapping(answer, ("train_mse", "test_mse", "why"))
    pca = PCAReconstructor(model.latent_dim).fit(digits.train.x)
    measured = {split: {"AE": _mse(model, x), "PCA": F.mse_loss(pca(x), x).item()}
                for split, x in (("train_mse", digits.train.x), ("test_mse", digits.test.x))}
    for split, row in measured.items():
        matches(a[split], row, f"'{split}'", rel=0.01)
    train, test = measured["train_mse"], measured["test_mse"]
    right = "c" if test["AE"] <= test["PCA"] else ("b" if train["AE"] < train["PCA"] else "a")
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != right:
        raise NotYet("'why': compare the two methods on the training digits first, then on the test digits.")
    return ""


@register("02.3", "a dict with 'accuracy' (a dict: 'code', 'PCA' and 'pixels', each a dict of 'few' and 'all') "
                  "and 'why' (a letter)")
def _few_labels(answer, context, strict):
    from .baselines import PCAReconstructor
    from .metrics import linear_probe_accuracy
    from .training import predict

    digits, model, n = _splits(context), context.get("model"), context.get("labels")
    if not isinstance(model, MLPAutoencoder) or not isinstance(n, int):
        raise ValueError("this check needs model= (the sweep's autoencoder) and labels= (how many) from the cell")
    a = mapping(answer, ("accuracy", "why"))
    pca = PCAReconstructor(model.latent_dim).fit(digits.train.x)
    spaces = {"code": lambda x: predict(model, x, method="encode"), "PCA": pca.encode, "pixels": lambda x: x.flatten(1)}
    given = mapping(a["accuracy"], spaces, "'accuracy'")
    y_train, y_test = digits.train.y, digits.test.y
    for name, encode in spaces.items():
        z_train, z_test = encode(digits.train.x), encode(digits.test.x)
        row = mapping(given[name], ("few", "all"), f"'accuracy'['{name}']")
        for key, m in (("few", n), ("all", len(z_train))):
            measured = linear_probe_accuracy(z_train[:m], y_train[:m], z_test, y_test)
            close(number(row[key], f"'accuracy'['{name}']['{key}']"), measured, f"'accuracy'['{name}']['{key}']",
                  abs_=1e-3)
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "a":
        raise NotYet("'why': count the weights a linear classifier must fit from a hundred examples, on 16 "
                     "inputs and on 784.")
    return ""


# --------------------------------------------------------------------------- 03

def _multiply_adds(model: ConvAutoencoder, input_shape=(1, 28, 28)) -> int:
    """Multiply-adds per image of the encoder's two convolutions."""
    total, x = 0, torch.zeros(1, *input_shape)
    with torch.no_grad():
        for layer in model.encoder[:4]:
            y = layer(x)
            if isinstance(layer, nn.Conv2d):
                total += y[0].numel() * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
            x = y
    return total


@register("03.1", "a dict with 'model' (the trained pair of the 8-16 model), 'parameters', 'multiply_adds' and "
                  "'test_mse' (each a dict with the keys '16-32' and '8-16') and 'second_conv_factor' (a letter)")
def _narrow_filters(answer, context, strict):
    from .models import count_parameters

    digits = _splits(context)
    reference = context.get("reference")
    if not isinstance(reference, ConvAutoencoder):
        raise ValueError("this check needs reference=the chapter's 16-32 ConvAutoencoder from the cell")
    a = mapping(answer, ("model", "parameters", "multiply_adds", "test_mse", "second_conv_factor"))
    narrow = trained(a["model"], "'model'", ConvAutoencoder, strict=strict)
    if (narrow.encoder[0].out_channels, narrow.encoder[2].out_channels) != (8, 16) or narrow.skips:
        raise NotYet("'model' should be the convolutional autoencoder with 8 and 16 channels, without skips "
                     "(recipes.conv_autoencoder with channels=(8, 16)).")
    models = {"16-32": reference, "8-16": narrow}
    for key, measure, rel in (("parameters", count_parameters, 0.0), ("multiply_adds", _multiply_adds, 0.0),
                              ("test_mse", lambda m: _mse(m, digits.test.x), 0.01)):
        given = mapping(a[key], models, f"'{key}'")
        for name, model in models.items():
            close(number(given[name], f"'{key}'['{name}']"), measure(model), f"'{key}'['{name}']", rel=rel)
    if choice(a["second_conv_factor"], {"a": "", "b": "", "c": ""}, "'second_conv_factor'") != "b":
        raise NotYet("'second_conv_factor': each output value of the second convolution reads every input "
                     "channel; count how both channel numbers enter its multiply-adds.")
    return ""


@register("03.2", "a dict with 'encoder' (an nn.Sequential of three stride-2 convolutions), "
                  "'receptive_field', 'rows_reached' and 'output_shape'")
def _deeper_encoder(answer, context, strict):
    from .convolution import influence_map, receptive_field

    a = mapping(answer, ("encoder", "receptive_field", "rows_reached", "output_shape"))
    encoder = a["encoder"]
    if not isinstance(encoder, nn.Sequential):
        raise NotYet(f"'encoder' should be an nn.Sequential, got {type(encoder).__name__}.")
    convs = [m for m in encoder if isinstance(m, nn.Conv2d)]
    if len(convs) != 3 or any(c.kernel_size != (3, 3) or c.stride != (2, 2) for c in convs) \
            or convs[0].in_channels != 1 or any(isinstance(m, nn.MaxPool2d) for m in encoder):
        raise NotYet("'encoder' should hold three 3x3 convolutions, each with stride 2 (the chapter's two "
                     "and one more), taking one input channel.")
    field = receptive_field(encoder)
    if number(a["receptive_field"], "'receptive_field'") != field:
        raise NotYet("'receptive_field': a 3x3 layer adds (3 - 1) times the product of all strides before it, "
                     "and two stride-2 layers come before the third.")
    reached = influence_map(encoder, (1, 28, 28)).any(1).nonzero()
    if number(a["rows_reached"], "'rows_reached'") != int(reached.max() - reached.min() + 1):
        raise NotYet("'rows_reached': count the rows of the influence map that hold any True "
                     "(convolution.influence_map), from the first to the last.")
    with torch.no_grad():
        shape = tuple(encoder(torch.zeros(1, 1, 28, 28)).shape)
    if tuple(a["output_shape"]) != shape:
        raise NotYet("'output_shape': run one digit (1, 1, 28, 28) through the encoder and read the shape; "
                     "a stride-2 layer with padding 1 rounds an odd size up.")
    return ""


def _checkerboard(kernel_size: int = 3) -> torch.Tensor:
    up = nn.ConvTranspose2d(1, 1, kernel_size, stride=2, padding=1, output_padding=1, bias=False)
    nn.init.ones_(up.weight)
    with torch.no_grad():
        return up(torch.ones(1, 1, 7, 7))


@register("03.3", "a dict with 'transposed' and 'upsampled' (each a (1, 1, 14, 14) tensor) and 'why' (a letter)")
def _checkerboards(answer, context, strict):
    a = mapping(answer, ("transposed", "upsampled", "why"))
    transposed = tensor(a["transposed"], "'transposed'", (1, 1, 14, 14))
    upsampled = tensor(a["upsampled"], "'upsampled'", (1, 1, 14, 14))
    if not torch.allclose(transposed, _checkerboard(), atol=1e-5):
        raise NotYet("'transposed' should be the all-ones 7x7 map through ConvTranspose2d(1, 1, 3, stride=2, "
                     "padding=1, output_padding=1) with every weight 1 and no bias.")
    inside = upsampled[0, 0, 2:-2, 2:-2]
    if len(transposed[0, 0, 2:-2, 2:-2].unique()) < 2 or torch.equal(upsampled, transposed) \
            or not torch.allclose(inside, inside[0, 0].expand_as(inside)) or inside[0, 0] == 0:
        raise NotYet("'upsampled' should be the same map enlarged first (F.interpolate, scale 2) and then "
                     "convolved with a 3x3 filter of equal weights and padding 1: away from the border it is even.")
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "a":
        raise NotYet("'why': the weights are all equal and so is the input; count how many input values "
                     "land on each output pixel.")
    return ""
