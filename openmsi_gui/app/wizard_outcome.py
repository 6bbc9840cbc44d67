"""What finishing the setup flow sets up: folders to make, a summary, the new settings.

No Qt. :class:`~openmsi_gui.app.wizard.SetupFlow` calls these with its forms;
``profile`` is the real broker's profile, or None for the demo broker.
"""

from __future__ import annotations

from openmsi_gui.app.settings import BrokerProfile, Destination, Settings, WatchedFolder
from openmsi_gui.app.validation import unique_name
from openmsi_gui.app.wizard_forms import (
    DEMO_GROUP,
    DEMO_INBOX,
    DEMO_OUTBOX,
    DEMO_PROFILE_NAME,
    DEMO_TOPIC,
    EMBEDDED_BOOTSTRAP,
    JobForm,
    JobKind,
    expand,
)


def directories_to_create(job: JobForm) -> list[str]:
    """Folders that must exist before the result is applied (the UI creates them)."""
    if job.kind is JobKind.PAIR:
        demo = expand(job.demo_folder)
        return [str(demo / DEMO_OUTBOX), str(demo / DEMO_INBOX)]
    if job.kind is JobKind.DESTINATION:
        return [str(expand(job.dest_path))]
    return []


def summary(profile: BrokerProfile | None, keeps_password: bool, job: JobForm) -> list[str]:
    """What finishing will set up, one sentence per item.

    Args:
        profile: the real broker's profile (None: the demo broker).
        keeps_password: a password goes to the keychain.
        job: the first job.
    """
    lines: list[str] = []
    if profile is None:
        lines.append("Broker: the local demo broker on this computer. It keeps what it "
                     "holds when the app quits; other computers cannot reach it.")
    else:
        security: str = profile.security_protocol
        if profile.sasl_username:
            security += f", user {profile.sasl_username}"
        lines.append(f"Broker: {profile.name} at {profile.bootstrap_servers} ({security}).")
        if keeps_password:
            lines.append("The password is kept in the system keychain, not in the "
                         "settings file.")
    if job.kind is JobKind.PAIR:
        demo = expand(job.demo_folder)
        lines.append(f"Files you put in {demo / DEMO_OUTBOX} are sent to topic "
                     f"{DEMO_TOPIC} and arrive in {demo / DEMO_INBOX}.")
    elif job.kind is JobKind.FOLDER:
        existing = " (including the files already there)" if job.upload_existing else ""
        lines.append(f"New files in {expand(job.folder_path)}{existing} are sent to "
                     f"topic {job.folder_topic.strip()}.")
    elif job.kind is JobKind.DESTINATION:
        lines.append(f"Files from topic {job.dest_topic.strip()} are saved in "
                     f"{expand(job.dest_path)}.")
    else:
        lines.append("No folders yet: add them later in the main window.")
    return lines


def apply(settings: Settings, profile: BrokerProfile | None, job: JobForm) -> Settings:
    """``settings`` (unchanged) plus the broker profile and the first job, first run done.

    The demo broker's profile is reused if there is one; nothing already there
    is added twice.
    """
    new = settings.copy()
    used = _add_profile(new, profile)
    if job.kind is JobKind.PAIR:
        demo = expand(job.demo_folder)
        _add_folder(new, WatchedFolder(
            path=str(demo / DEMO_OUTBOX), profile_id=used.id, topic=DEMO_TOPIC,
            upload_existing=True, stable_seconds=1.0))
        _add_destination(new, Destination(
            path=str(demo / DEMO_INBOX), profile_id=used.id, topic=DEMO_TOPIC,
            group_id=DEMO_GROUP))
    elif job.kind is JobKind.FOLDER:
        _add_folder(new, WatchedFolder(
            path=str(expand(job.folder_path)), profile_id=used.id,
            topic=job.folder_topic.strip(), upload_existing=job.upload_existing))
    elif job.kind is JobKind.DESTINATION:
        _add_destination(new, Destination(
            path=str(expand(job.dest_path)), profile_id=used.id,
            topic=job.dest_topic.strip(), group_id=job.group_id))
    new.ui.first_run_done = True
    return new


def default_name(servers: str) -> str:
    """A profile name from its first host ("Broker" if there is none)."""
    first = servers.split(",", maxsplit=1)[0]
    host = first.rpartition(":")[0] or first
    return host.strip("[]") or "Broker"


def _add_profile(settings: Settings, profile: BrokerProfile | None) -> BrokerProfile:
    if profile is None:
        embedded = next((p for p in settings.profiles if p.embedded), None)
        if embedded is not None:
            return embedded
        demo = BrokerProfile(name=DEMO_PROFILE_NAME, bootstrap_servers=EMBEDDED_BOOTSTRAP,
                             embedded=True)
        settings.profiles.append(demo)
        return demo
    profile.name = unique_name(profile.name,
                               [p.name for p in settings.profiles if p.id != profile.id])
    settings.profiles = [p for p in settings.profiles if p.id != profile.id] + [profile]
    return profile


def _add_folder(settings: Settings, folder: WatchedFolder) -> None:
    if not any(f.path == folder.path and f.topic == folder.topic
               and f.profile_id == folder.profile_id for f in settings.folders):
        settings.folders.append(folder)


def _add_destination(settings: Settings, dest: Destination) -> None:
    if not any(d.path == dest.path and d.topic == dest.topic
               and d.profile_id == dest.profile_id for d in settings.destinations):
        settings.destinations.append(dest)
