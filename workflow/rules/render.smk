"""The rendering phase of the DAG: render_preview, preview GIFs of a few samples of one prepared dataset
drawn by each renderer (DrAction as initialized, its ablation without NFM, and the fixed baselines).

Outputs: <results>/plots/render/<renderer>/<sample>/{frame_XX.png, render.gif, contact_sheet.png}, for the
config's render.preview_samples samples of render.dataset (one sample per class, classes spread evenly), drawn on
render.device (cuda jobs request one GPU).
"""


wildcard_constraints:
    renderer="[A-Za-z0-9_]+",


def preview_dataset():
    """The prepared dataset whose samples the previews show: render.dataset, or the first entry of datasets."""
    name = config["render"].get("dataset", next(iter(config["datasets"])))
    if name not in config["datasets"]:
        raise ValueError(f"config: render.dataset is {name!r}, which is not one of datasets: {sorted(config['datasets'])}")
    return name


def render_targets():
    """The preview folders of every configured renderer: <results>/plots/render/<renderer>/."""
    return [results("plots", "render", renderer) for renderer in config["render"]["renderers"]]


def gpu_request():
    """One GPU per render job when render.device is cuda (SLURM: --gpus), none otherwise."""
    return {"gpu": 1} if config["render"]["device"] == "cuda" else {}


PREVIEW_DATA = results("data", preview_dataset())


rule render_preview:
    input:
        poses=os.path.join(PREVIEW_DATA, "poses.npy"),
        index=os.path.join(PREVIEW_DATA, "index.parquet"),
        manifest=os.path.join(PREVIEW_DATA, "manifest.json"),
    output:
        directory(results("plots", "render", "{renderer}")),
    params:
        data=PREVIEW_DATA,
        samples=ConfigValue("render.preview_samples"),
        frames=ConfigValue("render.frames"),
        size=ConfigValue("render.size"),
        backend=ConfigValue("render.backend"),
        device=ConfigValue("render.device"),
    threads: 1
    log:
        log_path("render_preview", "{renderer}"),
    resources:
        **rule_resources("render_preview"),
        **gpu_request(),
    shell:
        "skeletonllm render --data {params.data:q} --preview {params.samples} --renderer {wildcards.renderer}"
        " --frames {params.frames} --size {params.size} --backend {params.backend} --device {params.device}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"
