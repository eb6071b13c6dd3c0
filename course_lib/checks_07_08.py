"""The checks of chapters 07-08's exercises (registered in ``checks``; see its docstring)."""

from __future__ import annotations

import numpy as np
import torch

from .checks import NotYet, choice, close, mapping, matches, number, register, tensor, trained
from .checks_04_06 import _needs
from .models import MLPAutoencoder

# --------------------------------------------------------------------------- 07


def _auroc(model, beats: torch.Tensor, y_anomaly: torch.Tensor) -> float:
    from .anomaly import ranking_metrics, reconstruction_scores

    return ranking_metrics(y_anomaly, reconstruction_scores(model, beats))["auroc"]


@register("07.1", "a dict with 'thresholds' (a dict: 95 and 99, each the thresholds of many resamples), "
                  "'range90' (a dict: 95 and 99, each (low, high)) and 'why' (a letter)")
def _thresholds(answer, context, strict):
    (val_scores,) = _needs(context, "val_scores")
    val = np.asarray(torch.as_tensor(val_scores, dtype=torch.float64))
    a = mapping(answer, ("thresholds", "range90", "why"))
    thresholds = mapping(a["thresholds"], (95, 99), "'thresholds'")
    ranges = mapping(a["range90"], (95, 99), "'range90'")
    for p in (95, 99):
        values = np.asarray(tensor(torch.as_tensor(np.asarray(thresholds[p], dtype=np.float64)),
                                   f"'thresholds'[{p}]", (None,)), dtype=np.float64)
        if len(values) < 200:
            raise NotYet(f"'thresholds'[{p}] should hold the threshold of each of many resamples (the exercise's "
                         "number), one percentile each.")
        if values.min() < val.min() - 1e-9 or values.max() > val.max() + 1e-9:
            raise NotYet(f"'thresholds'[{p}]: a percentile of resampled validation scores lies between their "
                         "smallest and largest; resample the normal validation scores, nothing else.")
        if values.std() == 0:
            raise NotYet(f"'thresholds'[{p}] are all equal: draw each resample with replacement "
                         "(numpy's rng.choice(..., replace=True)), or every resample is the same scores.")
        low, high = (number(v, f"'range90'[{p}]") for v in ranges[p])
        lo, hi = np.percentile(values, [5, 95])
        close(low, lo, f"'range90'[{p}] (its low end)", abs_=1e-6 + 1e-6 * abs(lo))
        close(high, hi, f"'range90'[{p}] (its high end)", abs_=1e-6 + 1e-6 * abs(hi))
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "c":
        raise NotYet("'why': with a few dozen scores, which of them decide where a high percentile falls?")
    return ""


@register("07.2", "a dict with 'models' (a dict: 2, 8 and 32, each a trained pair), 'auroc' and "
                  "'median_anomaly_error' (each a dict: 2, 8, 32) and 'measures' (a letter)")
def _code_size(answer, context, strict):
    from .anomaly import reconstruction_scores

    beats, y_anomaly = _needs(context, "beats", "y_anomaly")
    a = mapping(answer, ("models", "auroc", "median_anomaly_error", "measures"))
    models = mapping(a["models"], (2, 8, 32), "'models'")
    aurocs, medians = mapping(a["auroc"], (2, 8, 32), "'auroc'"), mapping(a["median_anomaly_error"], (2, 8, 32),
                                                                         "'median_anomaly_error'")
    for k in (2, 8, 32):
        model = trained(models[k], f"'models'[{k}]", MLPAutoencoder, strict=strict)
        if model.latent_dim != k or model.input_shape != (1, 140):
            raise NotYet(f"'models'[{k}] should be the chapter's beat autoencoder with a code of {k} numbers "
                         f"(recipes.beat_autoencoder with latent_dim={k}).")
        close(number(aurocs[k], f"'auroc'[{k}]"), _auroc(model, beats, y_anomaly), f"'auroc'[{k}]", abs_=1e-4)
        scores = reconstruction_scores(model, beats)
        close(number(medians[k], f"'median_anomaly_error'[{k}]"), scores[y_anomaly == 1].median().item(),
              f"'median_anomaly_error'[{k}]", rel=1e-3)
    if choice(a["measures"], {"a": "", "b": "", "c": ""}, "'measures'") != "b":
        raise NotYet("'measures': a detector is good when abnormal beats score above normal ones; which number "
                     "compares the two?")
    return ""


@register("07.3", "a dict with 'dirty_x' (the training beats with the abnormal ones added), 'model' (the trained "
                  "pair), 'auroc' (a dict: 'clean', 'dirty') and 'why' (a letter)")
def _dirty_data(answer, context, strict):
    beats, y_anomaly, ecg, reference = _needs(context, "beats", "y_anomaly", "data", "reference")
    a = mapping(answer, ("dirty_x", "model", "auroc", "why"))
    normal, abnormal = ecg.train.x, ecg.train_anomalous.x
    dirty = tensor(a["dirty_x"], "'dirty_x'", (len(normal) + len(abnormal), *normal.shape[1:]))
    if not torch.allclose(dirty.double().sum(0), (normal.double().sum(0) + abnormal.double().sum(0)), atol=1e-3):
        raise NotYet("'dirty_x' should be the normal training beats and the training file's abnormal beats "
                     "together (ecg.train.x and ecg.train_anomalous.x), each once.")
    model = trained(a["model"], "'model'", MLPAutoencoder, strict=strict)
    if model is reference or model.latent_dim != 8:
        raise NotYet("'model' should be a new beat autoencoder (code 8) trained on 'dirty_x' under a name of "
                     "its own (recipes.beat_autoencoder(..., name=...)).")
    measured = {"clean": _auroc(reference, beats, y_anomaly), "dirty": _auroc(model, beats, y_anomaly)}
    matches(a["auroc"], measured, "'auroc'", abs_=1e-4)
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "a":
        raise NotYet("'why': what does an autoencoder learn to rebuild, and what then happens to the score of "
                     "an abnormal beat?")
    if strict and not measured["dirty"] < measured["clean"]:
        raise NotYet("in a full run the model trained with abnormal beats should rank them worse: train it on "
                     "'dirty_x' until its validation loss stops improving.")
    return f"AUROC {measured['clean']:.3f} trained on normal beats, {measured['dirty']:.3f} with abnormal ones."


# --------------------------------------------------------------------------- 08

def _judged(classifier, images: torch.Tensor) -> torch.Tensor:
    from .generative import class_probabilities

    return class_probabilities(classifier, images)


@register("08.1", "a dict with 'model' (the trained pair), 'codes' (N, 2), 'wanted' (N labels), 'images' "
                  "(N, 1, 28, 28), 'share' (a number) and 'why' (a letter)")
def _conditional(answer, context, strict):
    from .generative import ConditionalVAE
    from .training import device_of

    (classifier,) = _needs(context, "classifier")
    a = mapping(answer, ("model", "codes", "wanted", "images", "share", "why"))
    model = trained(a["model"], "'model'", ConditionalVAE, strict=strict)
    codes = tensor(a["codes"], "'codes'", (None, model.latent_dim))
    wanted = a["wanted"]
    if not isinstance(wanted, torch.Tensor) or wanted.shape != (len(codes),) or wanted.is_floating_point():
        raise NotYet("'wanted' should be one integer label per code, a tensor (N,).")
    if len(codes) < 100 or set(wanted.tolist()) != set(range(10)):
        raise NotYet("ask for every digit 0-9, each many times (at least 100 codes in all).")
    images = tensor(a["images"], "'images'", (len(codes), 1, 28, 28))
    with torch.no_grad():
        model.eval()
        device = device_of(model)
        decoded = model.decode(codes.to(device), wanted.to(device)).cpu()
    if not torch.allclose(images, decoded, atol=1e-4):
        raise NotYet("'images' should be the decoder's images for 'codes' with the labels 'wanted' "
                     "(model.decode(codes, wanted)).")
    probs = _judged(classifier, images)
    right = ((probs.argmax(1) == wanted) & (probs.max(1).values >= 0.9)).float().mean().item()
    close(number(a["share"], "'share'"), right, "'share'", abs_=1e-4)
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "a":
        raise NotYet("'why': the decoder is told the label; what is left for the code to carry?")
    if strict and right < 0.5:
        raise NotYet("in a full run most samples should be confidently the digit asked for: train the "
                     "conditional VAE with its recipe (generative.conditional_vae) and decode prior codes.")
    return f"The classifier confidently sees the digit asked for in {right:.0%} of your samples."


@register("08.2", "a dict with 'codes' and 'images' (each a dict: one entry per temperature), 'confident_share' "
                  "and 'class_entropy' (the same keys) and 'trade' (a letter)")
def _temperature(answer, context, strict):
    from .generative import class_entropy, confident_share
    from .training import predict

    classifier, vae, temperatures = _needs(context, "classifier", "vae", "temperatures")
    a = mapping(answer, ("codes", "images", "confident_share", "class_entropy", "trade"))
    codes, images = mapping(a["codes"], temperatures, "'codes'"), mapping(a["images"], temperatures, "'images'")
    shares = mapping(a["confident_share"], temperatures, "'confident_share'")
    entropies = mapping(a["class_entropy"], temperatures, "'class_entropy'")
    measured = {}
    for t in temperatures:
        z = tensor(codes[t], f"'codes'[{t}]", (None, vae.latent_dim))
        if len(z) < 100 or abs(z.std().item() / t - 1) > 0.15 or z.mean().abs() > 0.2 * t:
            raise NotYet(f"'codes'[{t}] should be many prior codes scaled by the temperature: "
                         f"{t} times draws from N(0, I).")
        x = tensor(images[t], f"'images'[{t}]", (len(z), 1, 28, 28))
        if not torch.allclose(x, predict(vae, z, method="decode"), atol=1e-4):
            raise NotYet(f"'images'[{t}] should be the VAE's decoder applied to 'codes'[{t}].")
        probs = _judged(classifier, x)
        measured[t] = (confident_share(probs), class_entropy(probs))
        close(number(shares[t], f"'confident_share'[{t}]"), measured[t][0], f"'confident_share'[{t}]", abs_=1e-4)
        close(number(entropies[t], f"'class_entropy'[{t}]"), measured[t][1], f"'class_entropy'[{t}]", abs_=1e-4)
    if choice(a["trade"], {"a": "", "b": "", "c": ""}, "'trade'") != "b":
        raise NotYet("'trade': codes nearer the prior's centre lie nearer each other; what does that do to the "
                     "samples, and what must be measured before calling them better?")
    spread = {t: tensor(images[t], f"'images'[{t}]").flatten(1).std(0).mean().item() for t in temperatures}
    low, high = min(temperatures), max(temperatures)
    if strict and not spread[low] < spread[high]:
        raise NotYet("in a full run the samples of the lowest temperature should differ least from each other: "
                     "scale the prior codes by each temperature and decode them with the chapter's VAE (k=16).")
    return ""


@register("08.3", "a dict with 'kl' (a dict: 1.0 and 4.0, each 16 numbers), 'active' (the same keys), 'change' "
                  "(a dict: 'most used', 'least used') and 'why' (a letter)")
def _kl_per_dimension(answer, context, strict):
    from .generative import kl_per_dimension
    from .training import predict

    clean, vae1, vae4 = _needs(context, "clean", "vae1", "vae4")
    a = mapping(answer, ("kl", "active", "change", "why"))
    kl, active = mapping(a["kl"], (1.0, 4.0), "'kl'"), mapping(a["active"], (1.0, 4.0), "'active'")
    per_dim = {}
    for beta, model in ((1.0, vae1), (4.0, vae4)):
        per_dim[beta] = kl_per_dimension(model, clean)
        given = tensor(torch.as_tensor(kl[beta]) if not isinstance(kl[beta], torch.Tensor) else kl[beta],
                       f"'kl'[{beta}]", (model.latent_dim,))
        if not torch.allclose(given, per_dim[beta], rtol=1e-3, atol=1e-5):
            raise NotYet(f"'kl'[{beta}] should be generative.kl_per_dimension of the beta-{beta:g} VAE over the "
                         "test digits the cell names.")
        if number(active[beta], f"'active'[{beta}]") != int((per_dim[beta] > 0.05).sum()):
            raise NotYet(f"'active'[{beta}]: count the dimensions whose KL is above 0.05 nats.")
    steps = torch.linspace(-3, 3, 9)
    change = mapping(a["change"], ("most used", "least used"), "'change'")
    for label, d in (("most used", int(per_dim[4.0].argmax())), ("least used", int(per_dim[4.0].argmin()))):
        z = torch.zeros(len(steps), vae4.latent_dim)
        z[:, d] = steps
        path = predict(vae4, z, method="decode")
        close(number(change[label], f"'change'['{label}']"), (path[1:] - path[:-1]).abs().mean().item(),
              f"'change'['{label}']", rel=1e-3)
    if choice(a["why"], {"a": "", "b": "", "c": ""}, "'why'") != "a":
        raise NotYet("'why': what does a KL of 0 say about q(z|x) in that dimension, for every image?")
    return ""
