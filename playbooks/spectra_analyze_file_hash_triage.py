"""
Looks up every file hash of the container on ReversingLabs Spectra Analyze in one batched "get report" call, then: malicious, or a risk score of 7 or more: severity high, tags rl-malicious / rl-high-risk, a note with the threat names, promotion to a case; suspicious: tag rl-suspicious and a note with the threat names; not on the appliance: tag rl-not-found (never read as clean); lookup error or invalid hash: a note, and no verdict.
"""


import phantom.rules as phantom


################################################################################
## Global Custom Code Start
################################################################################

def markdown_table(header, rows):
    """A Markdown table for a note; empty cells for missing values."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join("" if value is None else str(value) for value in row) + " |")
    return "\n".join(lines)

################################################################################
## Global Custom Code End
################################################################################

@phantom.playbook_block()
def on_start(container):
    phantom.debug('on_start() called')

    # call 'get_report_hashes' block
    get_report_hashes(container=container)

    return

@phantom.playbook_block()
def get_report_hashes(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("get_report_hashes() called")

    ################################################################################
    # One "get report" call for every file hash of the container: the app looks
    # them up in batches, and returns one data item per hash.
    ################################################################################

    container_artifact_data = phantom.collect2(container=container, datapath=["artifact:*.cef.fileHash","artifact:*.cef.fileHashMd5","artifact:*.cef.fileHashSha1","artifact:*.cef.fileHashSha256","artifact:*.cef.fileHashSha512"])

    parameters = []

    ################################################################################
    ## Custom Code Start
    ################################################################################

    hashes = []
    for container_artifact_item in container_artifact_data:
        for value in container_artifact_item:
            if value and value.strip() and value.strip() not in hashes:
                hashes.append(value.strip())
    if not hashes:
        phantom.debug("no file hash artifacts in this container: nothing to look up")
        return
    parameters.append({"hashes": ",".join(hashes)})

    ################################################################################
    ## Custom Code End
    ################################################################################

    phantom.act("get report", parameters=parameters, name="get_report_hashes", assets=["spectra_analyze"], callback=verdict_filter)

    return


@phantom.playbook_block()
def verdict_filter(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("verdict_filter() called")

    ################################################################################
    # Sorts the data items (one per hash) by verdict. Each condition is checked
    # on its own: a container may hold hashes of every kind.
    ################################################################################

    # collect filtered artifact ids and results for 'if' condition 1
    matched_artifacts_1, matched_results_1 = phantom.condition(
        container=container,
        logical_operator="or",
        conditions=[
            ["get_report_hashes:action_result.data.*.classification", "==", "malicious"],
            ["get_report_hashes:action_result.data.*.riskscore", ">=", 7]
        ],
        name="verdict_filter:condition_1",
        delimiter=None)

    # call connected blocks if filtered artifacts or results
    if matched_artifacts_1 or matched_results_1:
        escalate(action=action, success=success, container=container, results=results, handle=handle, filtered_artifacts=matched_artifacts_1, filtered_results=matched_results_1)

    # collect filtered artifact ids and results for 'if' condition 2
    matched_artifacts_2, matched_results_2 = phantom.condition(
        container=container,
        conditions=[
            ["get_report_hashes:action_result.data.*.classification", "==", "suspicious"]
        ],
        name="verdict_filter:condition_2",
        delimiter=None)

    # call connected blocks if filtered artifacts or results
    if matched_artifacts_2 or matched_results_2:
        note_suspicious(action=action, success=success, container=container, results=results, handle=handle, filtered_artifacts=matched_artifacts_2, filtered_results=matched_results_2)

    # collect filtered artifact ids and results for 'if' condition 3
    matched_artifacts_3, matched_results_3 = phantom.condition(
        container=container,
        conditions=[
            ["get_report_hashes:action_result.data.*.status", "==", "not_found"]
        ],
        name="verdict_filter:condition_3",
        delimiter=None)

    # call connected blocks if filtered artifacts or results
    if matched_artifacts_3 or matched_results_3:
        tag_not_found(action=action, success=success, container=container, results=results, handle=handle, filtered_artifacts=matched_artifacts_3, filtered_results=matched_results_3)

    # collect filtered artifact ids and results for 'if' condition 4
    matched_artifacts_4, matched_results_4 = phantom.condition(
        container=container,
        logical_operator="or",
        conditions=[
            ["get_report_hashes:action_result.data.*.status", "==", "error"],
            ["get_report_hashes:action_result.data.*.status", "==", "invalid"]
        ],
        name="verdict_filter:condition_4",
        delimiter=None)

    # call connected blocks if filtered artifacts or results
    if matched_artifacts_4 or matched_results_4:
        note_no_verdict(action=action, success=success, container=container, results=results, handle=handle, filtered_artifacts=matched_artifacts_4, filtered_results=matched_results_4)

    return


@phantom.playbook_block()
def escalate(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("escalate() called")

    ################################################################################
    # Malicious, or a risk score at or above the threshold: severity high, tags,
    # a note naming the threats, and a case.
    ################################################################################

    filtered_result_0_data_verdict_filter = phantom.collect2(container=container, datapath=["filtered-data:verdict_filter:condition_1:get_report_hashes:action_result.data.*.hash","filtered-data:verdict_filter:condition_1:get_report_hashes:action_result.data.*.classification","filtered-data:verdict_filter:condition_1:get_report_hashes:action_result.data.*.riskscore","filtered-data:verdict_filter:condition_1:get_report_hashes:action_result.data.*.threat_name"])

    ################################################################################
    ## Custom Code Start
    ################################################################################

    rows = filtered_result_0_data_verdict_filter
    tags = sorted(set("rl-malicious" if row[1] == "malicious" else "rl-high-risk" for row in rows))
    phantom.set_severity(container=container, severity="high")
    phantom.add_tags(container=container, tags=tags)
    phantom.add_note(container=container, note_type="general", note_format="markdown",
                     title="Spectra Analyze: malicious or high-risk file hashes",
                     content=markdown_table(["Hash", "Classification", "Risk score", "Threat name"], rows))
    phantom.promote(container=container)

    ################################################################################
    ## Custom Code End
    ################################################################################

    return


@phantom.playbook_block()
def note_suspicious(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("note_suspicious() called")

    ################################################################################
    # Suspicious: a tag, and a note naming the threats.
    ################################################################################

    filtered_result_0_data_verdict_filter = phantom.collect2(container=container, datapath=["filtered-data:verdict_filter:condition_2:get_report_hashes:action_result.data.*.hash","filtered-data:verdict_filter:condition_2:get_report_hashes:action_result.data.*.riskscore","filtered-data:verdict_filter:condition_2:get_report_hashes:action_result.data.*.threat_name"])

    ################################################################################
    ## Custom Code Start
    ################################################################################

    phantom.add_tags(container=container, tags="rl-suspicious")
    phantom.add_note(container=container, note_type="general", note_format="markdown",
                     title="Spectra Analyze: suspicious file hashes",
                     content=markdown_table(["Hash", "Risk score", "Threat name"], filtered_result_0_data_verdict_filter))

    ################################################################################
    ## Custom Code End
    ################################################################################

    return


@phantom.playbook_block()
def tag_not_found(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("tag_not_found() called")

    ################################################################################
    # Not on the appliance: unknown, never clean.
    ################################################################################

    phantom.add_tags(container=container, tags="rl-not-found")

    return


@phantom.playbook_block()
def note_no_verdict(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None, filtered_results=None, custom_function=None, **kwargs):
    phantom.debug("note_no_verdict() called")

    ################################################################################
    # The lookup failed, or the value is not a hash: say why, decide nothing.
    ################################################################################

    filtered_result_0_data_verdict_filter = phantom.collect2(container=container, datapath=["filtered-data:verdict_filter:condition_4:get_report_hashes:action_result.data.*.hash","filtered-data:verdict_filter:condition_4:get_report_hashes:action_result.data.*.status","filtered-data:verdict_filter:condition_4:get_report_hashes:action_result.data.*.error"])

    ################################################################################
    ## Custom Code Start
    ################################################################################

    phantom.add_note(container=container, note_type="general", note_format="markdown",
                     title="Spectra Analyze: no verdict for some file hashes",
                     content=markdown_table(["Hash", "Status", "Why"], filtered_result_0_data_verdict_filter))

    ################################################################################
    ## Custom Code End
    ################################################################################

    return


@phantom.playbook_block()
def on_finish(container, summary):
    phantom.debug("on_finish() called")

    return
