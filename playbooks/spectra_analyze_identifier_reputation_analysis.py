"""
Accepts file hashes and looks them up on ReversingLabs Spectra Analyze with one "file reputation" call. Outputs one observable per hash with the app's normalized score (0-10, OCSF reputation scale) and its label, and a Markdown report. An input playbook for Identifier_Reputation_Analysis_Dispatch: a hash whose lookup failed gets no score, so it is never tagged as clean.
"""


import phantom.rules as phantom
import json


################################################################################
## Global Custom Code Start
################################################################################

# The captions of the OCSF reputation score_id (https://schema.ocsf.io/objects/reputation),
# as Splunk's other reputation input playbooks spell them.
OCSF_SCORES = ["Unknown", "Very_Safe", "Safe", "Probably_Safe", "Leans_Safe", "May_not_be_Safe", "Exercise_Caution",
               "Suspicious_or_Risky", "Possibly_Malicious", "Probably_Malicious", "Malicious"]


def markdown_cell(value):
    """A value for a Markdown table cell, shown as text: a threat name or a tag
    comes from the sample, so nothing in it may make a link, markup or a new cell."""
    text = "" if value is None else str(value)
    for character in "\\`*_{}[]()<>#+!|~":
        text = text.replace(character, "\\" + character)
    return " ".join(text.split())

################################################################################
## Global Custom Code End
################################################################################

@phantom.playbook_block()
def on_start(container):
    phantom.debug('on_start() called')

    # call 'file_hash_reputation' block
    file_hash_reputation(container=container)

    return

@phantom.playbook_block()
def file_hash_reputation(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("file_hash_reputation() called")

    ################################################################################
    # One "file reputation" call for every input hash: the app looks them all up
    # in one batched lookup and returns one data item per hash.
    ################################################################################

    playbook_input_file_hash = phantom.collect2(container=container, datapath=["playbook_input:file_hash"])

    parameters = []

    # build parameters list for 'file_hash_reputation' call
    for playbook_input_file_hash_item in playbook_input_file_hash:
        if playbook_input_file_hash_item[0] is not None:
            parameters.append({
                "hash": playbook_input_file_hash_item[0],
            })

    ################################################################################
    ## Custom Code Start
    ################################################################################

    if not parameters:
        phantom.debug("no file hash among the inputs: nothing to look up")
        return

    ################################################################################
    ## Custom Code End
    ################################################################################

    phantom.act("file reputation", parameters=parameters, name="file_hash_reputation", assets=["spectra_analyze"], callback=build_file_hash_output)

    return


@phantom.playbook_block()
def build_file_hash_output(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("build_file_hash_output() called")

    ################################################################################
    # One observable per hash with the app's normalized verdict, and a report.
    ################################################################################

    file_hash_reputation_result_data = phantom.collect2(container=container, datapath=["file_hash_reputation:action_result.data.*.hash","file_hash_reputation:action_result.data.*.verdict.score","file_hash_reputation:action_result.data.*.verdict.label","file_hash_reputation:action_result.data.*.verdict.reason","file_hash_reputation:action_result.data.*.verdict.source","file_hash_reputation:action_result.data.*.classification","file_hash_reputation:action_result.data.*.threat_name","file_hash_reputation:action_result.data.*.tags"])

    build_file_hash_output__observable_array = None
    build_file_hash_output__markdown_report = None

    ################################################################################
    ## Custom Code Start
    ################################################################################

    build_file_hash_output__observable_array = []
    lines = ["| Hash | Normalized score | Verdict | Threat name | Reason | Source |", "| --- | --- | --- | --- | --- | --- |"]
    for value, score, label, reason, source, classification, threat_name, tags in file_hash_reputation_result_data:
        # No score without a verdict: the dispatch playbook tags only observables with a score_id.
        build_file_hash_output__observable_array.append({
            "value": value,
            "type": "hash",
            "reputation": {
                "score_id": score,
                "score": None if score is None else OCSF_SCORES[score],
                "label": label,
                "reason": reason,
            },
            "categories": [category for category in [classification, threat_name] + list(tags or []) if category],
            "source": source,
            "source_link": None,
        })
        lines.append("| " + " | ".join(markdown_cell(cell) for cell in (
            value, "no verdict" if score is None else "{} ({})".format(score, OCSF_SCORES[score]),
            label or "none", threat_name, reason, source)) + " |")
    build_file_hash_output__markdown_report = "\n".join(lines)

    ################################################################################
    ## Custom Code End
    ################################################################################

    phantom.save_run_data(key="build_file_hash_output:observable_array", value=json.dumps(build_file_hash_output__observable_array))
    phantom.save_run_data(key="build_file_hash_output:markdown_report", value=json.dumps(build_file_hash_output__markdown_report))

    return


@phantom.playbook_block()
def on_finish(container, summary):
    phantom.debug("on_finish() called")

    return
