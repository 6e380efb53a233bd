"""The executable-docs harness: which text of a Markdown page counts as commands, and how they run."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from doc_commands import DocCommandFailed, DocMarkupError, DocRunner, commands, summary

FENCE = "```"


def page(*lines: str) -> str:
    """A Markdown page from its lines."""
    return "\n".join(lines) + "\n"


def texts(markdown: str) -> list[str]:
    """The command texts of a page."""
    return [command.text for command in commands(markdown, "guide.md")]


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def runner(tmp_path: Path) -> DocRunner:
    """A runner whose terminal starts in the test's own folder."""
    return DocRunner(tmp_path, env=dict(os.environ))


def test_only_bash_sh_and_shell_fences_hold_commands() -> None:
    markdown = page(
        *(f"{FENCE}{language}\necho {language}\n{FENCE}" for language in ("bash", "sh", "shell", "python", "yaml")),
        f"{FENCE}\necho plain\n{FENCE}",
    )
    assert texts(markdown) == ["echo bash", "echo sh", "echo shell"]


def test_backslash_continuation_lines_join_into_one_command() -> None:
    markdown = page(f"{FENCE}bash", "copier copy src dest \\", "  --data template=factory", "echo next", FENCE)
    assert texts(markdown) == ["copier copy src dest \\\n  --data template=factory", "echo next"]


def test_a_backslash_at_the_end_of_a_comment_does_not_continue_the_command() -> None:
    markdown = page(f"{FENCE}bash", "echo one   # see C:\\", "echo two", FENCE)
    assert texts(markdown) == ["echo one   # see C:\\", "echo two"]


def test_an_open_quote_joins_the_lines_until_it_closes() -> None:
    markdown = page(f"{FENCE}bash", 'git commit -m "first line', 'second line"', FENCE)
    assert texts(markdown) == ['git commit -m "first line\nsecond line"']


def test_a_multi_line_for_loop_is_one_command() -> None:
    loop = ["for repo in a b; do", '  (cd "$repo" \\', "     && echo ok)", "done"]
    assert texts(page(f"{FENCE}bash", *loop, "echo after", FENCE)) == ["\n".join(loop), "echo after"]


def test_blank_and_comment_only_lines_between_commands_are_dropped() -> None:
    markdown = page(f"{FENCE}bash", "# a new repo", "", "echo one", "   # indented comment", "", "echo two", FENCE)
    assert texts(markdown) == ["echo one", "echo two"]


def test_a_trailing_comment_stays_part_of_its_command() -> None:
    assert texts(page(f"{FENCE}bash", "uv sync   # every tool", FENCE)) == ["uv sync   # every tool"]


def test_each_command_records_its_document_and_the_markdown_line_it_starts_on() -> None:
    markdown = page("# Title", "", f"{FENCE}bash", "# comment", "echo a \\", "  b", "echo c", FENCE)
    assert [(c.source, c.line) for c in commands(markdown, "guide.md")] == [("guide.md", 5), ("guide.md", 7)]


def test_a_skip_marker_shows_every_command_of_its_block_without_running_them() -> None:
    markdown = page(
        '<!-- docs-test: skip reason="needs an Azure subscription" -->',
        f"{FENCE}bash",
        "az login",
        "az ml job list",
        FENCE,
        f"{FENCE}bash",
        "echo runs",
        FENCE,
    )
    reasons = [command.skip_reason for command in commands(markdown, "guide.md")]
    assert reasons == ["needs an Azure subscription", "needs an Azure subscription", None]


def test_a_skip_marker_with_match_skips_only_the_commands_containing_it() -> None:
    markdown = page(
        '<!-- docs-test: skip match="factory aml train" reason="needs Azure ML" -->',
        f"{FENCE}bash",
        "uv run factory aml submit churn --dry-run",
        "uv run factory aml train churn --env dev",
        FENCE,
    )
    assert [command.skip_reason for command in commands(markdown, "guide.md")] == [None, "needs Azure ML"]


def test_several_markers_before_one_block_each_apply_to_the_commands_they_match() -> None:
    markdown = page(
        '<!-- docs-test: skip match="aml train" reason="needs Azure ML" -->',
        '<!-- docs-test: server match="mlflow ui" url="http://127.0.0.1:5000/" -->',
        f"{FENCE}bash",
        "uv run factory aml train churn",
        "uv run mlflow ui",
        "uv run pytest",
        FENCE,
    )
    marks = [(c.skip_reason, c.server_url) for c in commands(markdown, "guide.md")]
    assert marks == [("needs Azure ML", None), (None, "http://127.0.0.1:5000/"), (None, None)]


def test_a_skip_marker_without_a_reason_is_an_error_naming_the_file_and_line() -> None:
    markdown = page("text", '<!-- docs-test: skip match="az" -->', f"{FENCE}bash", "az login", FENCE)
    with pytest.raises(DocMarkupError, match=r"guide\.md:2: docs-test skip needs reason"):
        commands(markdown, "guide.md")


def test_a_marker_whose_match_matches_no_command_of_its_block_is_an_error() -> None:
    markdown = page('<!-- docs-test: skip match="az ml" reason="Azure" -->', f"{FENCE}bash", "uv sync", FENCE)
    with pytest.raises(DocMarkupError, match=r"guide\.md:1: .*'az ml' matches no command"):
        commands(markdown, "guide.md")


def test_an_unknown_marker_action_is_an_error() -> None:
    markdown = page('<!-- docs-test: ignore reason="later" -->', f"{FENCE}bash", "uv sync", FENCE)
    with pytest.raises(DocMarkupError, match=r"guide\.md:1: unknown docs-test action 'ignore'"):
        commands(markdown, "guide.md")


def test_a_marker_not_directly_before_a_bash_block_is_an_error() -> None:
    markdown = page('<!-- docs-test: skip reason="Azure" -->', "", f"{FENCE}bash", "uv sync", FENCE)
    with pytest.raises(DocMarkupError, match=r"guide\.md:1: a docs-test marker must directly precede a fence"):
        commands(markdown, "guide.md")


def test_a_command_marked_by_two_markers_is_an_error() -> None:
    markdown = page(
        '<!-- docs-test: skip reason="all of it" -->',
        '<!-- docs-test: skip match="az" reason="Azure" -->',
        f"{FENCE}bash",
        "az login",
        FENCE,
    )
    with pytest.raises(DocMarkupError, match=r"guide\.md:2: the command on line 4 is already marked on line 1"):
        commands(markdown, "guide.md")


def test_a_server_marker_records_the_url_and_timeout_of_the_commands_it_matches() -> None:
    markdown = page(
        '<!-- docs-test: server match="mlflow ui" url="http://127.0.0.1:5000/" timeout="30" -->',
        f"{FENCE}bash",
        "uv run pytest",
        "uv run mlflow ui",
        FENCE,
    )
    marked = [(c.server_url, c.server_timeout) for c in commands(markdown, "guide.md") if c.server_url]
    assert marked == [("http://127.0.0.1:5000/", 30.0)]


def test_the_working_directory_carries_over_from_one_command_to_the_next(runner: DocRunner, tmp_path: Path) -> None:
    results = runner.run_all(commands(page(f"{FENCE}bash", "mkdir a && cd a", "pwd", FENCE), "guide.md"))
    assert results[1].output.strip() == str(tmp_path / "a")
    assert runner.cwd == tmp_path / "a"


def test_a_failed_command_leaves_the_working_directory_where_it_was(runner: DocRunner, tmp_path: Path) -> None:
    with pytest.raises(DocCommandFailed):
        runner.run_all(commands(page(f"{FENCE}bash", "mkdir a && cd a && false", FENCE), "guide.md"))
    assert runner.cwd == tmp_path


def test_a_failing_command_raises_with_document_line_command_exit_code_and_output(runner: DocRunner) -> None:
    markdown = page("# Guide", "", f"{FENCE}bash", "echo fine", "echo 'the disk is full' && exit 3", FENCE)
    with pytest.raises(DocCommandFailed) as failure:
        runner.run_all(commands(markdown, "guide.md"))
    message = str(failure.value)
    assert message.startswith("guide.md:5: documented command exited 3")
    assert "echo 'the disk is full' && exit 3" in message
    assert message.rstrip().endswith("the disk is full")


def test_a_failing_pipeline_stage_fails_the_command(runner: DocRunner) -> None:
    with pytest.raises(DocCommandFailed, match="exited 1"):
        runner.run_all(commands(page(f"{FENCE}bash", "false | cat", FENCE), "guide.md"))


def test_substitutions_change_the_text_run_and_both_texts_are_recorded(tmp_path: Path) -> None:
    runner = DocRunner(tmp_path, env=dict(os.environ), substitutions={"gh:ORG/templates": "/srv/templates"})
    (result,) = runner.run_all(commands(page(f"{FENCE}bash", "echo gh:ORG/templates > where", FENCE), "guide.md"))
    assert (tmp_path / "where").read_text() == "/srv/templates\n"
    assert (result.command.text, result.ran_text) == ("echo gh:ORG/templates > where", "echo /srv/templates > where")


def test_skipped_commands_are_returned_as_skipped_and_not_run(runner: DocRunner, tmp_path: Path) -> None:
    markdown = page('<!-- docs-test: skip reason="shown only" -->', f"{FENCE}bash", "touch ran", FENCE)
    (result,) = runner.run_all(commands(markdown, "guide.md"))
    assert result.skipped and result.exit_code is None
    assert not (tmp_path / "ran").exists()


def test_stdin_is_not_a_terminal_so_a_command_reading_it_gets_end_of_file(runner: DocRunner) -> None:
    (result,) = runner.run_all(commands(page(f"{FENCE}bash", "cat && test ! -t 0 && echo eof", FENCE), "guide.md"))
    assert result.output == "eof\n"


def test_a_background_process_left_by_a_command_is_stopped_when_it_returns(runner: DocRunner, tmp_path: Path) -> None:
    runner.run_all(commands(page(f"{FENCE}bash", "sleep 60 & echo $! > sleeper.pid", FENCE), "guide.md"))
    with pytest.raises(ProcessLookupError):
        os.kill(int((tmp_path / "sleeper.pid").read_text()), 0)


def test_a_command_that_outlives_the_runner_timeout_fails(tmp_path: Path) -> None:
    runner = DocRunner(tmp_path, env=dict(os.environ), timeout=1)
    with pytest.raises(DocCommandFailed, match=r"guide\.md:2: documented command timed out after 1 s"):
        runner.run_all(commands(page(f"{FENCE}bash", "sleep 60", FENCE), "guide.md"))


def test_a_server_command_is_started_awaited_and_stopped_with_its_process_group(
    runner: DocRunner, tmp_path: Path
) -> None:
    port = free_port()
    markdown = page(
        f'<!-- docs-test: server match="http.server" url="http://127.0.0.1:{port}/" -->',
        f"{FENCE}bash",
        f"echo $$ > server.pid && python3 -m http.server {port} --bind 127.0.0.1",
        FENCE,
    )
    (result,) = runner.run_all(commands(markdown, "guide.md"))
    assert not result.skipped
    assert '"GET / HTTP/1.1" 200' in result.output
    with pytest.raises(ProcessLookupError):
        os.killpg(int((tmp_path / "server.pid").read_text()), 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_server_that_never_answers_fails_with_its_output(runner: DocRunner) -> None:
    port = free_port()
    markdown = page(
        f'<!-- docs-test: server match="sleep" url="http://127.0.0.1:{port}/" timeout="1" -->',
        f"{FENCE}bash",
        "echo starting up && sleep 60",
        FENCE,
    )
    with pytest.raises(DocCommandFailed, match=r"(?s)did not answer below HTTP 500 within 1 s.*starting up"):
        runner.run_all(commands(markdown, "guide.md"))


def test_the_summary_counts_executed_and_skipped_commands_per_document(runner: DocRunner) -> None:
    readme = page(
        f"{FENCE}bash",
        "echo one",
        "echo two",
        FENCE,
        '<!-- docs-test: skip reason="needs Azure" -->',
        f"{FENCE}bash",
        "az login",
        FENCE,
    )
    updates = page(f"{FENCE}bash", "echo three", FENCE)
    results = runner.run_all([*commands(readme, "README.md"), *commands(updates, "docs/updates.md")])
    assert summary(results) == (
        "README.md: 2 executed, 1 skipped\n"
        "  skipped 1: needs Azure\n"
        "docs/updates.md: 1 executed, 0 skipped\n"
        "all documents: 3 executed, 1 skipped"
    )
