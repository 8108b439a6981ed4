"""The device check's Markdown block, ready to paste into benchmarks/RESULTS.md, from its JSON report."""

from __future__ import annotations


def _value(value) -> str:
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def hardware_line(hardware: dict) -> str:
    """One line naming the device, the CPUs and the software versions."""
    parts = [hardware["device_name"]]
    if "gpu_memory_gib" in hardware:
        parts[0] += f" ({hardware['gpu_memory_gib']} GiB)"
    parts.append(f"{hardware['cpu_count']} CPUs ({hardware['cpu_model']})")
    software = f"torch {hardware['torch']}"
    if hardware.get("cuda"):
        software += f" (CUDA {hardware['cuda']}, cuDNN {hardware['cudnn']})"
    software += f", Python {hardware['python']}, numpy {hardware['numpy']}, ale-py {hardware['ale_py']}"
    return "; ".join([*parts, software])


def _learning_lines(section: dict) -> list[str]:
    figures, details = section["figures"], section["details"]
    ours, baseline, published = details["eval"]["efficientzero"], details["eval"]["random"], details["published"]
    cap = details["eval"]["max_agent_steps_per_game"]
    stop = ", stopped by the deadline" if details["stopped_by_deadline"] else ""
    lines = [
        f"Learning check ({details['game']}, {details['envs']} envs): {figures['env_steps']:,} agent steps and "
        f"{figures['updates']:,} updates in {figures['train_s']:.0f} s{stop}. Greedy eval, {details['eval']['episodes']} games "
        f"capped at {cap:,} agent steps: EfficientZero {ours['mean']:.2f} ± {ours['stderr']:.2f}, uniformly random "
        f"{baseline['mean']:.2f} ± {baseline['stderr']:.2f} on the same games "
        f"({'above' if details['beats_random'] else 'not above'} random by two standard errors).",
    ]
    if published["efficientzero_100k"] is not None:
        lines.append(
            f"For scale only: EfficientZero's published Breakout score after 100k steps is {published['efficientzero_100k']} "
            f"(random {published['random']}, human {published['human']}; {published['source']})."
        )
    lines.append(f"This is a {details['note']}.")
    return lines


def markdown(report: dict) -> str:
    """The report as a Markdown section: heading, hardware, command, one table of every figure, the learning check."""
    hardware = report["hardware"]
    smoke = report["mode"] == "cpu-smoke"
    lines = [f"### Device check{' (CPU smoke)' if smoke else ''}, {report['date'][:10]}: {hardware['device_name']}", ""]
    if smoke:
        lines += ["**A CPU smoke run at tiny sizes: it checks the code paths; these are not GPU figures.**", ""]
    within = "within" if report["deadline_respected"] else "over"
    lines += [
        f"Hardware: {hardware_line(hardware)}.",
        "",
        "Command:",
        "",
        "```",
        report["command"],
        "```",
        "",
        f"Budget {report['budget_s']:.0f} s, used {report['elapsed_s']:.0f} s ({within} the budget).",
        "",
        "| section | figure | value |",
        "|---|---|---|",
    ]
    for section in report["sections"].values():
        title = section["title"]
        if section["status"] != "ok":
            lines.append(f"| {title} | {section['status']} | {section.get('error') or section.get('reason')} |")
            continue
        for name, value in section["figures"].items():
            lines.append(f"| {title} | {name} | {_value(value)} |")
    flags = report["sections"].get("speed_flags", {}).get("details", {}).get("flags")
    if flags:
        lines += ["", "Speed flags: " + "; ".join(f"`{name}` {state}" for name, state in flags.items()) + "."]
    learning = report["sections"].get("learning", {})
    if learning.get("status") == "ok":
        lines += [""] + _learning_lines(learning)
    return "\n".join(lines) + "\n"
