"""`LogTail`: what `make demo` shows of its web log while it serves."""

from devstack.processes import LogTail


def test_it_gives_the_complete_lines_written_after_it_started(tmp_path):
    log = tmp_path / "web.log"
    log.write_text("GET / 200 before the demo served\n")
    tail = LogTail(log)

    with log.open("a") as writer:
        writer.write("GET /c/outdoor/ 200 1 ms 0 sql hit\nGET /p/tent/ 2")
    assert tail.new_lines() == ["GET /c/outdoor/ 200 1 ms 0 sql hit"]

    with log.open("a") as writer:
        writer.write("00 3 ms 0 sql hit\n")
    assert tail.new_lines() == ["GET /p/tent/ 200 3 ms 0 sql hit"]
    assert tail.new_lines() == []


def test_a_log_not_written_yet_has_no_lines(tmp_path):
    tail = LogTail(tmp_path / "web.log")

    assert tail.new_lines() == []
    (tmp_path / "web.log").write_text("GET / 200 1 ms 2 sql miss\n")
    assert tail.new_lines() == ["GET / 200 1 ms 2 sql miss"]
