"""The first-run setup flow, without Qt: steps, validation and the settings it produces."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from openmsi_gui.app import profiles
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    Settings,
    SettingsStore,
    WatchedFolder,
    to_dict,
)
from openmsi_gui.app.wizard import (
    DEMO_TOPIC,
    FlowError,
    JobKind,
    Mode,
    PathKind,
    SetupFlow,
    Step,
)

PASSWORD = "s3cr3t-Pa55word!"


@pytest.fixture
def flow(tmp_path: Path) -> SetupFlow:
    return SetupFlow(tmp_path / "demo")


def real_flow_at_broker(flow: SetupFlow, **broker: str) -> SetupFlow:
    flow.choose_mode(Mode.REAL)
    assert flow.next_step() is Step.BROKER
    flow.update_broker(**{"bootstrap_servers": "kafka.example.org:9092", **broker})
    return flow


def pass_connection_test(flow: SetupFlow) -> None:
    token = flow.begin_connection_test()
    assert flow.record_connection(token, True, "Connected to kafka.example.org:9092: 3 topics.")


@pytest.mark.parametrize("module", ["wizard", "wizard_forms", "wizard_checks", "wizard_outcome"])
def test_module_is_qt_free(module: str) -> None:
    source = Path(__file__).resolve().parents[2] / "openmsi_gui" / "app" / f"{module}.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in {"PySide6", "shiboken6", "qasync"}}


# -- the demo path ------------------------------------------------------------------


def test_demo_path_skips_the_broker_step(flow: SetupFlow, tmp_path: Path) -> None:
    assert flow.step is Step.WELCOME
    assert flow.mode is Mode.DEMO
    assert flow.path() == [Step.WELCOME, Step.FIRST_JOB, Step.DONE]
    assert flow.next_of(Step.WELCOME) is Step.FIRST_JOB
    assert flow.can_advance() == (True, "")
    assert flow.next_step() is Step.FIRST_JOB
    assert flow.job.kind is JobKind.PAIR
    assert flow.next_step() is Step.DONE
    assert flow.next_of(Step.DONE) is None
    ok, reason = flow.can_advance()
    assert not ok
    assert "Finish" in reason
    with pytest.raises(FlowError):
        flow.next_step()
    assert flow.can_finish() == (True, "")


def test_demo_pair_result(flow: SetupFlow, tmp_path: Path) -> None:
    flow.next_step()
    flow.next_step()
    settings, secrets = flow.result(Settings())
    assert secrets == {}
    [profile] = settings.profiles
    assert profile.embedded
    [folder] = settings.folders
    [dest] = settings.destinations
    assert folder.path == str(tmp_path / "demo" / "outbox")
    assert dest.path == str(tmp_path / "demo" / "inbox")
    assert folder.topic == dest.topic == DEMO_TOPIC
    assert folder.profile_id == dest.profile_id == profile.id
    assert folder.upload_existing
    assert settings.ui.first_run_done
    assert flow.directories_to_create() == [folder.path, dest.path]
    assert any("outbox" in line for line in flow.summary())


def test_demo_reuses_an_existing_embedded_profile(flow: SetupFlow) -> None:
    embedded = BrokerProfile(name="Local demo broker", bootstrap_servers="(embedded)",
                             embedded=True)
    flow.next_step()
    flow.next_step()
    settings, _ = flow.result(Settings(profiles=[embedded]))
    assert [p.id for p in settings.profiles] == [embedded.id]
    assert settings.folders[0].profile_id == embedded.id


def test_demo_with_a_single_folder(flow: SetupFlow, tmp_path: Path) -> None:
    watched = tmp_path / "instrument"
    watched.mkdir()
    flow.next_step()
    flow.update_job(kind=JobKind.FOLDER, folder_path=str(watched))
    assert flow.job.folder_topic == DEMO_TOPIC
    flow.next_step()
    settings, _ = flow.result(Settings())
    assert [f.path for f in settings.folders] == [str(watched)]
    assert settings.destinations == []
    assert settings.profiles[0].embedded


def test_demo_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    flow = SetupFlow(tmp_path / "file")
    flow.next_step()
    ok, reason = flow.can_advance()
    assert not ok
    assert "is a file" in reason


# -- the real path --------------------------------------------------------------------


def test_real_path_needs_a_valid_address_and_a_connection_test(flow: SetupFlow) -> None:
    flow.choose_mode("real")
    assert flow.path() == [Step.WELCOME, Step.BROKER, Step.FIRST_JOB, Step.DONE]
    assert flow.next_step() is Step.BROKER
    ok, reason = flow.can_advance()
    assert not ok
    assert "broker address" in reason
    with pytest.raises(FlowError):
        flow.next_step()
    with pytest.raises(FlowError, match="broker address"):
        flow.begin_connection_test()

    flow.update_broker(bootstrap_servers="kafka.example.org")
    assert "needs a port" in flow.can_advance()[1]
    flow.update_broker(bootstrap_servers="kafka.example.org:99999")
    assert "1 to 65535" in flow.can_advance()[1]
    flow.update_broker(bootstrap_servers="kafka.example.org:9092")
    assert flow.errors() == []
    assert flow.can_advance() == (False, "Test the connection before continuing.")

    token = flow.begin_connection_test()
    assert flow.record_connection(token, False, "nothing accepts connections")
    assert not flow.can_advance()[0]
    assert flow.connection_message == "nothing accepts connections"
    token = flow.begin_connection_test()
    assert flow.record_connection(token, True, "Connected")
    assert flow.can_advance() == (True, "")
    assert flow.next_step() is Step.FIRST_JOB
    assert flow.job.kind is JobKind.FOLDER


def test_editing_the_broker_invalidates_the_test(flow: SetupFlow) -> None:
    real_flow_at_broker(flow)
    pass_connection_test(flow)
    flow.update_broker(name="Lab broker")  # the name is not a connection setting
    assert flow.connection_ok
    flow.update_broker(bootstrap_servers="kafka.example.org:9093")
    assert not flow.connection_ok
    assert flow.connection_message == ""


def test_a_stale_test_result_is_ignored(flow: SetupFlow) -> None:
    real_flow_at_broker(flow)
    token = flow.begin_connection_test()
    flow.update_broker(bootstrap_servers="other.example.org:9092")
    assert not flow.record_connection(token, True, "Connected to the old address")
    assert not flow.connection_ok
    assert flow.connection_message == ""


def test_sasl_needs_mechanism_user_and_password(flow: SetupFlow) -> None:
    real_flow_at_broker(flow, security_protocol="SASL_SSL")
    errors = " ".join(flow.errors())
    assert "SASL mechanism" in errors
    assert "user name" in errors
    assert "password" in errors
    flow.update_broker(sasl_mechanism="SCRAM-SHA-512", sasl_username="lab",
                       password=PASSWORD)
    assert flow.errors() == []


def test_ca_file_must_exist_for_tls(flow: SetupFlow, tmp_path: Path) -> None:
    real_flow_at_broker(flow, security_protocol="SSL", ca_file=str(tmp_path / "missing.pem"))
    assert "does not exist" in flow.errors()[0]
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    flow.update_broker(ca_file=str(tmp_path / "ca.pem"))
    assert flow.errors() == []
    flow.update_broker(ca_file="relative.pem")
    assert "full path" in flow.errors()[0]
    flow.update_broker(security_protocol="PLAINTEXT")  # not used without TLS
    assert flow.errors() == []
    assert flow.profile().ca_file == ""


def test_injected_file_checks_keep_it_pure(tmp_path: Path) -> None:
    disk = {"/data/xrd": PathKind.FOLDER, "/etc/ca.pem": PathKind.FILE}
    flow = SetupFlow("/nowhere/demo", look=lambda p: disk.get(p, PathKind.NOTHING))
    real_flow_at_broker(flow, security_protocol="SSL", ca_file="/etc/ca.pem")
    pass_connection_test(flow)
    flow.next_step()
    flow.update_job(folder_path="/data/xrd", folder_topic="xrd")
    assert flow.can_advance() == (True, "")



def test_without_look_the_flow_asks_for_paths_instead_of_touching_the_disk(
        tmp_path: Path) -> None:
    """The Qt wizard's mode: validation never blocks on the disk; the UI checks off-thread."""
    flow = SetupFlow("/nowhere/demo", look=None)
    real_flow_at_broker(flow, security_protocol="SSL", ca_file="/etc/ca.pem")
    assert flow.errors() == ["Checking /etc/ca.pem…"]
    assert flow.paths_to_check() == ["/etc/ca.pem"]
    assert flow.paths_to_check() == ["/etc/ca.pem"]  # still needed until recorded
    flow.record_path("/etc/ca.pem", PathKind.NOTHING)
    assert "does not exist" in flow.errors()[0]
    assert flow.paths_to_check() == []
    flow.record_path("/etc/ca.pem", PathKind.FILE)
    assert flow.errors() == []
    pass_connection_test(flow)
    flow.next_step()
    flow.update_job(folder_path="/data/xrd", folder_topic="xrd")
    ok, reason = flow.can_advance()
    assert not ok
    assert reason == "Checking /data/xrd…"
    assert flow.paths_to_check() == ["/data/xrd"]
    flow.record_path("/data/xrd", PathKind.FILE)
    assert "does not exist" in flow.can_advance()[1]
    flow.record_path("/data/xrd", PathKind.FOLDER)
    assert flow.can_advance() == (True, "")
    flow.next_step()
    assert flow.paths_to_check() == []
    flow.forget_paths()  # e.g. the page is shown again: look again
    assert sorted(flow.paths_to_check()) == ["/data/xrd", "/etc/ca.pem"]
    assert not flow.can_finish()[0]


def test_without_look_the_demo_pair_checks_its_subfolders() -> None:
    flow = SetupFlow("/nowhere/demo", look=None)
    flow.next_step()
    assert flow.paths_to_check() == ["/nowhere/demo"]
    flow.record_path("/nowhere/demo", PathKind.NOTHING)
    assert flow.paths_to_check() == ["/nowhere/demo/outbox", "/nowhere/demo/inbox"]
    flow.record_path("/nowhere/demo/outbox", PathKind.NOTHING)
    flow.record_path("/nowhere/demo/inbox", PathKind.FILE)
    assert "is a file" in flow.can_advance()[1]


# -- back navigation -------------------------------------------------------------------


def test_back_keeps_what_was_typed(flow: SetupFlow, tmp_path: Path) -> None:
    with pytest.raises(FlowError):
        flow.back()
    real_flow_at_broker(flow, name="Lab")
    pass_connection_test(flow)
    flow.next_step()
    flow.update_job(folder_path=str(tmp_path))
    assert flow.back() is Step.BROKER
    assert flow.broker.name == "Lab"
    assert flow.connection_ok
    assert flow.back() is Step.WELCOME
    flow.choose_mode(Mode.DEMO)
    assert flow.next_step() is Step.FIRST_JOB
    assert flow.back() is Step.WELCOME
    flow.choose_mode(Mode.REAL)
    assert flow.next_step() is Step.BROKER
    assert flow.connection_ok  # nothing about the broker changed
    assert flow.next_step() is Step.FIRST_JOB
    assert flow.job.folder_path == str(tmp_path)


def test_switching_to_real_drops_the_demo_pair_and_topic(flow: SetupFlow) -> None:
    assert flow.job.kind is JobKind.PAIR
    flow.choose_mode(Mode.REAL)
    assert flow.job.kind is JobKind.FOLDER
    assert flow.job.folder_topic == ""
    with pytest.raises(ValueError, match="demo"):
        flow.update_job(kind=JobKind.PAIR)
    flow.choose_mode(Mode.DEMO)
    assert flow.job.kind is JobKind.PAIR
    assert flow.job.folder_topic == DEMO_TOPIC


def test_a_chosen_kind_survives_a_mode_change(flow: SetupFlow) -> None:
    flow.update_job(kind=JobKind.DESTINATION)
    flow.choose_mode(Mode.REAL)
    assert flow.job.kind is JobKind.DESTINATION
    flow.choose_mode(Mode.DEMO)
    assert flow.job.kind is JobKind.DESTINATION


def test_update_rejects_unknown_fields(flow: SetupFlow) -> None:
    with pytest.raises(TypeError):
        flow.update_broker(port="9092")
    with pytest.raises(TypeError):
        flow.update_job(upload_existing="yes")
    with pytest.raises(ValueError, match="wizard"):
        flow.update_job(kind="wizard")


# -- first job: folder, destination or skip ------------------------------------------------


def finish_real(flow: SetupFlow, settings: Settings | None = None, **job: str | bool
                ) -> tuple[Settings, dict[str, str]]:
    if flow.step is Step.WELCOME:
        real_flow_at_broker(flow)
    if not flow.connection_ok:
        pass_connection_test(flow)
    if flow.step is Step.BROKER:
        flow.next_step()
    flow.update_job(**job)
    flow.next_step()
    return flow.result(settings or Settings())


def test_real_folder_result(flow: SetupFlow, tmp_path: Path) -> None:
    settings, secrets = finish_real(flow, kind="folder", folder_path=str(tmp_path),
                                    folder_topic="xrd", upload_existing=True)
    assert secrets == {}
    [profile] = settings.profiles
    assert not profile.embedded
    assert profile.id == flow.profile_id
    assert profile.bootstrap_servers == "kafka.example.org:9092"
    assert profile.name == "kafka.example.org"
    [folder] = settings.folders
    assert (folder.path, folder.profile_id, folder.topic) == (str(tmp_path), profile.id, "xrd")
    assert folder.upload_existing
    assert folder.enabled
    assert settings.destinations == []
    assert settings.ui.first_run_done


def test_real_destination_result(flow: SetupFlow, tmp_path: Path) -> None:
    target = tmp_path / "received" / "xrd"
    settings, _ = finish_real(flow, kind="destination", dest_path=str(target),
                              dest_topic="xrd", group_id="analysis")
    assert settings.folders == []
    [dest] = settings.destinations
    assert (dest.path, dest.topic, dest.group_id) == (str(target), "xrd", "analysis")
    assert dest.profile_id == settings.profiles[0].id
    assert flow.directories_to_create() == [str(target)]


def test_skip_result_adds_only_the_profile(flow: SetupFlow) -> None:
    settings, _ = finish_real(flow, kind="skip")
    assert len(settings.profiles) == 1
    assert settings.folders == []
    assert settings.destinations == []
    assert settings.ui.first_run_done
    assert flow.directories_to_create() == []
    assert "later" in flow.summary()[-1]


def test_folder_step_validation(flow: SetupFlow, tmp_path: Path) -> None:
    real_flow_at_broker(flow)
    pass_connection_test(flow)
    flow.next_step()
    assert "Choose the folder to watch" in flow.can_advance()[1]
    flow.update_job(folder_path="relative/dir")
    assert "full path" in flow.can_advance()[1]
    flow.update_job(folder_path=str(tmp_path / "missing"))
    assert "does not exist" in flow.can_advance()[1]
    flow.update_job(folder_path=str(tmp_path))
    assert "topic" in flow.can_advance()[1]
    flow.update_job(folder_topic="bad topic")
    assert "not a valid topic" in flow.can_advance()[1]
    flow.update_job(folder_topic="xrd")
    assert flow.can_advance() == (True, "")
    flow.update_job(kind="destination")
    assert "Choose the folder to save files in" in flow.can_advance()[1]
    flow.update_job(kind="skip")
    assert flow.can_advance() == (True, "")


def test_unknown_topic_is_a_warning_not_an_error(flow: SetupFlow, tmp_path: Path) -> None:
    real_flow_at_broker(flow)
    pass_connection_test(flow)
    flow.next_step()
    flow.update_job(folder_path=str(tmp_path), folder_topic="xrd")
    assert flow.warnings() == []
    flow.set_known_topics(["other"])
    assert "no topic “xrd”" in flow.warnings()[0]
    assert flow.can_advance() == (True, "")
    flow.set_known_topics(["xrd", "other"])
    assert flow.warnings() == []


def test_folders_already_in_use_are_refused(tmp_path: Path) -> None:
    profile = BrokerProfile(bootstrap_servers="kafka.example.org:9092")
    existing = Settings(profiles=[profile],
                        folders=[WatchedFolder(path=str(tmp_path / "out"),
                                               profile_id=profile.id, topic="a")],
                        destinations=[Destination(path=str(tmp_path / "in"),
                                                  profile_id=profile.id, topic="a")])
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()
    flow = SetupFlow(tmp_path / "demo", existing=existing)
    real_flow_at_broker(flow)
    pass_connection_test(flow)
    flow.next_step()
    flow.update_job(folder_path=str(tmp_path / "out"), folder_topic="b")
    assert "already watched" in flow.can_advance()[1]
    flow.update_job(folder_path=str(tmp_path / "in"))
    assert "send them again" in flow.can_advance()[1]
    flow.update_job(kind="destination", dest_path=str(tmp_path / "out"), dest_topic="b")
    assert "sent again" in flow.can_advance()[1]


def test_running_the_demo_setup_twice_adds_nothing(tmp_path: Path) -> None:
    first = SetupFlow(tmp_path / "demo")
    first.next_step()
    first.next_step()
    settings, _ = first.result(Settings())
    again = SetupFlow(tmp_path / "demo", existing=settings)
    again.next_step()
    assert again.can_advance() == (True, "")
    again.next_step()
    repeated, _ = again.result(settings)
    assert repeated == settings


def test_result_refuses_an_incomplete_flow(flow: SetupFlow) -> None:
    flow.choose_mode(Mode.REAL)
    with pytest.raises(FlowError, match="broker address"):
        flow.result(Settings())
    flow.next_step()
    flow.update_broker(bootstrap_servers="kafka.example.org:9092")
    with pytest.raises(FlowError, match="Test the connection"):
        flow.result(Settings())


# -- secrets stay out of the settings -------------------------------------------------------


def test_password_is_returned_separately(flow: SetupFlow, tmp_path: Path) -> None:
    real_flow_at_broker(flow, name="Lab", security_protocol="SASL_PLAINTEXT",
                        sasl_mechanism="PLAIN", sasl_username="lab", password=PASSWORD)
    settings, secrets = finish_real(flow, kind="skip")
    assert secrets == {profiles.PASSWORD: PASSWORD}
    profile = settings.profiles[0]
    assert flow.secret_owner == profiles.owner(profile)
    assert (profile.sasl_mechanism, profile.sasl_username) == ("PLAIN", "lab")
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in json.dumps(to_dict(settings))
    assert PASSWORD not in repr(flow.broker)
    store = SettingsStore(tmp_path / "settings.json")
    store.update(settings)
    assert PASSWORD not in store.path.read_text(encoding="utf-8")
    assert any("keychain" in line for line in flow.summary())


def test_no_secret_without_sasl(flow: SetupFlow) -> None:
    real_flow_at_broker(flow, security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                        sasl_username="lab", password=PASSWORD)
    flow.update_broker(security_protocol="SSL")
    settings, secrets = finish_real(flow, kind="skip")
    assert secrets == {}
    assert settings.profiles[0].sasl_username == ""
    assert settings.profiles[0].sasl_mechanism == ""


def test_demo_has_no_secrets_even_after_typing_a_password(flow: SetupFlow) -> None:
    real_flow_at_broker(flow, security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                        sasl_username="lab", password=PASSWORD)
    flow.back()
    flow.choose_mode(Mode.DEMO)
    flow.next_step()
    flow.next_step()
    settings, secrets = flow.result(Settings())
    assert secrets == {}
    assert [p.embedded for p in settings.profiles] == [True]


# -- existing settings -------------------------------------------------------------------------


def test_existing_settings_are_preserved(flow: SetupFlow, tmp_path: Path) -> None:
    old_profile = BrokerProfile(name="kafka.example.org", bootstrap_servers="old:9092")
    old_folder = WatchedFolder(path="/data/old", profile_id=old_profile.id, topic="old")
    old_dest = Destination(path="/data/in", profile_id=old_profile.id, topic="old")
    before = Settings(profiles=[old_profile], folders=[old_folder], destinations=[old_dest])
    before.ui.theme = "dark"
    before.ui.notify_completions = True
    snapshot = before.copy()
    settings, _ = finish_real(flow, before, kind="folder", folder_path=str(tmp_path),
                              folder_topic="xrd")
    assert before == snapshot  # the argument is not changed
    assert settings.profiles[0] == old_profile
    assert settings.folders[0] == old_folder
    assert settings.destinations == [old_dest]
    assert (settings.ui.theme, settings.ui.notify_completions) == ("dark", True)
    assert settings.profiles[1].name == "kafka.example.org (2)"  # names stay unique
    assert settings.ui.first_run_done


def test_dismissed_only_marks_the_wizard_done() -> None:
    before = Settings(profiles=[BrokerProfile(bootstrap_servers="a:1")])
    after = SetupFlow.dismissed(before)
    assert after.ui.first_run_done
    assert not before.ui.first_run_done
    after.ui.first_run_done = False
    assert after == before


# -- the parts of the flow, on their own ----------------------------------------------


@pytest.mark.parametrize(("servers", "name"), [
    ("kafka.lab:9092,b:9092", "kafka.lab"), ("[::1]:9092", "::1"), ("", "Broker"),
])
def test_default_profile_name_is_the_first_host(servers: str, name: str) -> None:
    from openmsi_gui.app.wizard_outcome import default_name

    assert default_name(servers) == name


def test_outcome_leaves_the_given_settings_alone(tmp_path: Path) -> None:
    from openmsi_gui.app.wizard_forms import JobForm
    from openmsi_gui.app.wizard_outcome import apply, directories_to_create

    job = JobForm(kind=JobKind.DESTINATION, dest_path=str(tmp_path / "in"), dest_topic="raw")
    assert directories_to_create(job) == [str(tmp_path / "in")]
    before = Settings()
    after = apply(before, None, job)
    assert before == Settings()
    assert [p.embedded for p in after.profiles] == [True]
    assert [(d.path, d.topic) for d in after.destinations] == [(str(tmp_path / "in"), "raw")]
    assert after.ui.first_run_done


def test_step_checks_collect_unknown_paths_once(tmp_path: Path) -> None:
    from openmsi_gui.app.wizard_checks import StepChecks
    from openmsi_gui.app.wizard_forms import BrokerForm, JobForm

    checks = StepChecks(None, look=None)
    job = JobForm(kind=JobKind.FOLDER, folder_path=str(tmp_path), folder_topic="raw")
    assert checks.errors(Step.FIRST_JOB, Mode.REAL, BrokerForm(), job) == [
        f"Checking {tmp_path}…"]
    assert checks.take_unknown() == [str(tmp_path)]
    assert checks.take_unknown() == []
    checks.record_path(str(tmp_path), PathKind.FOLDER)
    assert checks.errors(Step.FIRST_JOB, Mode.REAL, BrokerForm(), job) == []
