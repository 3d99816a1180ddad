"""Users and the `tessera users` CLI, driven as an operator would, from pipes and from a terminal.

Stored hashes are checked with the Argon2id of Python's `cryptography` package, so a password is
known to be hashed exactly as typed (without its line ending). Terminals are pseudo-terminals
from Python's `pty`, to see that the prompt does not echo and that echo comes back afterwards.
"""
import base64
import json
import os
import pty
import select
import signal
import subprocess
import termios
import time

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from conftest import ROOT, tessera_bin

PASSWORD = "correct horse battery staple"
DOCUMENT_KEYS = {"sub", "username", "email", "email_verified", "name", "disabled", "created_at", "updated_at",
                 "password_changed_at"}


class Users:
    """The CLI and the table of one migrated database."""

    def __init__(self, database):
        self.database = database
        self.env = dict(os.environ)
        self.env["PGDATABASE"] = database

    def cli(self, *args, input=None):
        """Runs `tessera users ARGS`; without `input` standard input is /dev/null, as in CI."""
        return subprocess.run([tessera_bin(), "users", *args], cwd=ROOT, env=self.env,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              input=input, capture_output=True, timeout=60)

    def cli_json(self, *args, input=None):
        result = self.cli(*args, "--json", input=input)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def create(self, username, *args, password=PASSWORD):
        return self.cli_json("create", "--username", username, "--password-stdin", *args,
                             input=(password + "\n").encode())

    def sql(self, query):
        result = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.database, "-c", query],
                                capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def stored_hash(self, username):
        # Test-chosen, quote-free usernames only.
        return self.sql(f"SELECT password_hash FROM users WHERE lower(username) = lower('{username}')")

    def usernames(self):
        return [user["username"] for user in self.cli_json("list")]


@pytest.fixture
def users(database):
    environment = dict(os.environ)
    environment["PGDATABASE"] = database
    subprocess.run([tessera_bin(), "migrate"], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                   check=True, capture_output=True, timeout=60)
    return Users(database)


def unpadded(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verifies(phc, password):
    """Whether the PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$tag` is the Argon2id of `password`."""
    _, algorithm, version, parameters, salt, tag = phc.split("$")
    assert algorithm == "argon2id" and version == "v=19"
    cost = dict(item.split("=") for item in parameters.split(","))
    kdf = Argon2id(salt=unpadded(salt), length=len(unpadded(tag)), iterations=int(cost["t"]),
                   lanes=int(cost["p"]), memory_cost=int(cost["m"]))
    return kdf.derive(password if isinstance(password, bytes) else password.encode()) == unpadded(tag)


def fails_with_one_line(result, code=None):
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# 1. Creating, and the hash that is stored

def test_create_reads_the_first_line_of_standard_input_and_stores_its_argon2id_hash(users):
    created = users.create("Alice", "--email", "alice@example.com", "--email-verified", "--name", "Alice Liddell")
    assert set(created) == DOCUMENT_KEYS
    assert created["username"] == "Alice"
    assert created["email"] == "alice@example.com" and created["email_verified"] is True
    assert created["name"] == "Alice Liddell" and created["disabled"] is False
    assert len(created["sub"]) == 36 and created["sub"] == created["sub"].lower()
    stored = users.stored_hash("Alice")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verifies(stored, PASSWORD)
    assert not verifies(stored, PASSWORD + "\n"), "the line ending is not part of the password"


@pytest.mark.parametrize("typed, password", [
    (b"pass word one\r\n", b"pass word one"),
    (b"no newline at all", b"no newline at all"),
    (b"first line only\nsecond line\n", b"first line only"),
    ("pässwörd-ü\n".encode(), "pässwörd-ü".encode()),
])
def test_line_endings_and_later_lines_are_not_part_of_the_password(users, typed, password):
    result = users.cli("create", "--username", "bob", "--password-stdin", input=typed)
    assert result.returncode == 0, result.stderr
    assert verifies(users.stored_hash("bob"), password)


def test_optional_fields_may_be_left_out(users):
    created = users.create("carol")
    assert created["email"] is None and created["email_verified"] is False and created["name"] is None


# 2. What is never shown or accepted

def test_show_and_list_never_print_the_password_or_its_hash(users):
    users.create("alice", "--email", "alice@example.com")
    stored = users.stored_hash("alice")
    shown = users.cli("show", "alice", "--json")
    listed = users.cli("list", "--json")
    for result in (shown, listed, users.cli("show", "alice"), users.cli("list")):
        assert result.returncode == 0, result.stderr
        for output in (result.stdout.decode(), result.stderr.decode()):
            assert PASSWORD not in output
            assert "$argon2" not in output and stored.split("$")[-1] not in output
    assert set(json.loads(shown.stdout)) == DOCUMENT_KEYS
    assert [set(user) for user in json.loads(listed.stdout)] == [DOCUMENT_KEYS]


@pytest.mark.parametrize("args", [
    ["create", "--username", "mallory", "--password", "hunter2hunter2"],
    ["create", "--username", "mallory", "--password=hunter2hunter2"],
    ["set-password", "alice", "--password", "hunter2hunter2"],
])
def test_there_is_no_password_option(users, args):
    users.create("alice")
    result = users.cli(*args, input=b"ignored-password\n")
    assert result.returncode != 0
    assert b"hunter2hunter2" not in result.stdout + result.stderr, "the refused value is not echoed"
    assert users.usernames() == ["alice"]
    assert verifies(users.stored_hash("alice"), PASSWORD)


def test_without_standard_input_or_password_stdin_it_fails_clearly(users):
    # CI has no terminal: standard input is /dev/null and there is nobody to prompt.
    line = fails_with_one_line(users.cli("create", "--username", "dave"), code=2)
    assert "--password-stdin" in line
    line = fails_with_one_line(users.cli("create", "--username", "dave", "--password-stdin"), code=2)
    assert "empty" in line
    users.create("alice")
    fails_with_one_line(users.cli("set-password", "alice"), code=2)
    assert users.usernames() == ["alice"]
    assert verifies(users.stored_hash("alice"), PASSWORD)


@pytest.mark.parametrize("typed", [
    b"1234567\n",                # 7 characters
    "äöüßäöü\n".encode(),       # 7 characters in 14 bytes
    b"x" * 1025 + b"\n",         # over 1024 bytes
    b"\xff\xfe not utf-8 at all\n",
    b"\n",
])
def test_unacceptable_passwords_are_refused(users, typed):
    fails_with_one_line(users.cli("create", "--username", "erin", "--password-stdin", input=typed), code=2)
    assert users.usernames() == []


def test_the_longest_password_is_accepted(users):
    users.create("frank", password="x" * 1024)
    assert verifies(users.stored_hash("frank"), "x" * 1024)


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_a_username_taken_whatever_its_case_is_refused(users, username):
    users.create("Alice")
    line = fails_with_one_line(users.cli("create", "--username", username, "--password-stdin", input=b"another password\n"))
    assert "already exists" in line
    assert users.usernames() == ["Alice"]
    assert verifies(users.stored_hash("alice"), PASSWORD)


@pytest.mark.parametrize("args", [
    ["--username", "alice liddell"],
    ["--username", "x" * 65],
    ["--username", "ålice"],
    ["--username", ""],
    ["--username", "alice", "--email", "not-an-address"],
    ["--username", "alice", "--email-verified"],
    ["--username", "alice", "--name", "Alice\x1b[31m"],
])
def test_bad_user_records_are_refused(users, args):
    fails_with_one_line(users.cli("create", "--password-stdin", *args, input=(PASSWORD + "\n").encode()), code=2)
    assert users.usernames() == []


# 3. Changing users

def test_set_password_replaces_the_hash(users):
    users.create("alice")
    before = users.stored_hash("alice")
    result = users.cli("set-password", "ALICE", "--password-stdin", input=b"a brand new password\n")
    assert result.returncode == 0, result.stderr
    assert b"a brand new password" not in result.stdout + result.stderr
    after = users.stored_hash("alice")
    assert after != before
    assert verifies(after, "a brand new password") and not verifies(after, PASSWORD)
    assert users.sql("SELECT password_changed_at > created_at FROM users") == "t"
    fails_with_one_line(users.cli("set-password", "nobody", "--password-stdin", input=b"whatever password\n"))
    fails_with_one_line(users.cli("set-password", "alice", "--password-stdin", input=b"short\n"), code=2)
    assert users.stored_hash("alice") == after


def test_disable_enable_and_delete(users):
    users.create("alice")
    users.create("bob")
    assert users.cli("disable", "Alice").returncode == 0
    assert users.cli_json("show", "alice")["disabled"] is True
    assert users.cli_json("show", "bob")["disabled"] is False
    assert "disabled" in users.cli("list").stdout.decode()
    assert users.cli("enable", "alice").returncode == 0
    assert users.cli_json("show", "alice")["disabled"] is False
    assert users.cli("delete", "ALICE").returncode == 0
    assert users.usernames() == ["bob"]
    fails_with_one_line(users.cli("show", "alice"))
    fails_with_one_line(users.cli("delete", "alice"))
    fails_with_one_line(users.cli("disable", "alice"))
    fails_with_one_line(users.cli("enable", "alice"))
    # The name is free again; the new user is someone else.
    first_sub = users.cli_json("show", "bob")["sub"]
    assert users.create("alice")["sub"] != first_sub


# 4. The interactive prompt

class Terminal:
    """`tessera users ARGS` with a pseudo-terminal as standard input and standard error."""

    def __init__(self, users, *args):
        self.master, self.slave = pty.openpty()
        self.process = subprocess.Popen([tessera_bin(), "users", *args], cwd=ROOT, env=users.env,
                                        stdin=self.slave, stdout=subprocess.PIPE, stderr=self.slave)
        self.screen = b""

    def wait_for(self, text, timeout=30):
        deadline = time.time() + timeout
        while text.encode() not in self.screen:
            remaining = deadline - time.time()
            assert remaining > 0, f"no {text!r} on the terminal: {self.screen!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096)
                except OSError:  # the process closed its end
                    break
        assert text.encode() in self.screen, self.screen

    def type(self, text):
        os.write(self.master, text.encode())

    def echoes(self):
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def finish(self, timeout=60):
        code = self.process.wait(timeout=timeout)
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.screen += chunk
        return code

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(users):
    opened = []

    def open_terminal(*args):
        opened.append(Terminal(users, *args))
        return opened[-1]

    yield open_terminal
    for session in opened:
        session.close()


def test_prompt_asks_twice_without_echo_and_restores_the_terminal(users, terminal):
    session = terminal("create", "--username", "grace")
    session.wait_for("Password: ")
    assert not session.echoes()
    session.type(PASSWORD + "\n")
    session.wait_for("Repeat the password: ")
    session.type(PASSWORD + "\n")
    assert session.finish() == 0, session.screen
    assert PASSWORD.encode() not in session.screen, "the password was echoed"
    assert session.echoes(), "echo is back on afterwards"
    assert verifies(users.stored_hash("grace"), PASSWORD)


def test_prompt_refuses_two_different_passwords(users, terminal):
    session = terminal("create", "--username", "heidi")
    session.wait_for("Password: ")
    session.type(PASSWORD + "\n")
    session.wait_for("Repeat the password: ")
    session.type(PASSWORD + "!\n")
    assert session.finish() == 2
    assert b"do not match" in session.screen
    assert session.echoes()
    assert users.usernames() == []


def test_prompt_refuses_a_short_password_before_asking_again(users, terminal):
    session = terminal("create", "--username", "ivan")
    session.wait_for("Password: ")
    session.type("short\n")
    assert session.finish() == 2
    assert b"Repeat" not in session.screen and b"at least 8" in session.screen
    assert session.echoes()


def test_prompt_for_a_new_password_of_an_existing_user(users, terminal):
    users.create("judy")
    session = terminal("set-password", "judy")
    session.wait_for("Password: ")
    session.type("another fine password\n")
    session.wait_for("Repeat the password: ")
    session.type("another fine password\n")
    assert session.finish() == 0, session.screen
    assert verifies(users.stored_hash("judy"), "another fine password")


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_prompt_restores_echo(users, terminal, number):
    session = terminal("create", "--username", "mallory")
    session.wait_for("Password: ")
    assert not session.echoes()
    session.process.send_signal(number)
    assert session.finish() == -number, "the signal ends the process as usual"
    assert session.echoes(), "an interrupted prompt must not leave the terminal silent"
    assert users.usernames() == []
