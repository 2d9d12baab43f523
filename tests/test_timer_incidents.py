"""A timer whose step keeps failing is one incident, however often the worker retries it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from engine.worker import Worker

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_timer_script"
    targetNamespace="http://nadzor.kz/test">
  <bpmn:process id="timer_script" name="Wait, then compute" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="One hour">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="compute" name="Compute"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>total = missing_name + 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="compute" />
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_failing_timer_step_stays_one_incident_across_retries(engine, clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "timer_script"
    folder.mkdir()
    (folder / "timer_script.bpmn").write_text(MODEL)
    engine.repository.publish(folder / "timer_script.bpmn", now=clock.now())
    iid = engine.runtime.start("timer_script", {}, actor="ivanov")

    worker = Worker(engine)
    for minutes in (61, 63, 70, 90):  # due, then each postponed retry
        clock.set(clock.now() + timedelta(minutes=minutes))
        worker.poll()

    incidents = engine.management.incidents(instance_id=iid)
    assert len(incidents) == 1, incidents
    assert "missing_name" in incidents[0]["message"]
    assert incidents[0]["task_name"] == "wait"
    assert engine.runtime.get(iid).status == "running"  # rolled back each time, still waiting
