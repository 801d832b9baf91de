"""What the generated OpenAPI document cannot say by itself: how operations chain (links: the
list a POST /lists created is the one GET /lists/{list_id} reads; schemathesis's stateful tests
follow them, and so can a client generator), the list file that POST .../imports takes as
its raw body, and that a 204 has no body."""

from __future__ import annotations

from typing import Any

from fanmail.domain.segments import recursive_components as segment_schemas

LIST = {"list_id": "$response.body#/list_id"}
SUBSCRIBER = {"list_id": "$response.body#/list_id", "email": "$response.body#/email"}
CAMPAIGN = {"campaign_id": "$response.body#/campaign_id"}
IMPORT = {"import_id": "$response.body#/import_id"}
UPLOAD = {"import_id": "$response.body#/job/import_id"}
TOPIC = {"list_id": "$request.path.list_id", "topic_id": "$response.body#/id"}
SAVED = {"list_id": "$response.body#/list_id", "segment_id": "$response.body#/segment_id"}
SAVED_ONE = "lists__list_id__segments__segment_id_"

# (path, method, status) -> {link name: (operationId, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("/lists", "post", "201"): {
        "ReadList": ("read_list_lists__list_id__get", LIST),
        "ChangeSettings": ("change_settings_lists__list_id__patch", LIST),
        "PageSubscribers": ("page_lists__list_id__subscribers_get", LIST),
        "SubmitImport": ("submit_lists__list_id__imports_post", LIST),
        "AskForUpload": ("upload_lists__list_id__imports_uploads_post", LIST),
        "CreateTopic": ("create_lists__list_id__topics_post", LIST),
        "AllTopics": ("all_topics_lists__list_id__topics_get", LIST),
    },
    ("/lists/{list_id}/topics", "post", "201"): {
        "ReadTopic": ("read_lists__list_id__topics__topic_id__get", TOPIC),
        "ChangeTopic": ("change_lists__list_id__topics__topic_id__patch", TOPIC),
        "DeleteTopic": ("delete_lists__list_id__topics__topic_id__delete", TOPIC),
    },
    ("/lists/{list_id}/subscribers/{email}", "put", "200"): {
        "ReadSubscriber": ("read_lists__list_id__subscribers__email__get", SUBSCRIBER),
        "ChangeStatus": (
            "change_status_lists__list_id__subscribers__email__status_post",
            SUBSCRIBER,
        ),
        "DeleteSubscriber": ("delete_lists__list_id__subscribers__email__delete", SUBSCRIBER),
    },
    ("/campaigns", "post", "201"): {
        "ReadCampaign": ("read_campaigns__campaign_id__get", CAMPAIGN),
        "TestSend": ("test_send_campaigns__campaign_id__test_post", CAMPAIGN),
        "Send": ("send_campaigns__campaign_id__send_post", CAMPAIGN),
        "Schedule": ("schedule_campaigns__campaign_id__schedule_post", CAMPAIGN),
        "Pause": ("pause_campaigns__campaign_id__pause_post", CAMPAIGN),
        "Cancel": ("cancel_campaigns__campaign_id__cancel_post", CAMPAIGN),
        "Resume": ("resume_campaigns__campaign_id__resume_post", CAMPAIGN),
        "ResendFailed": ("resend_failed_campaigns__campaign_id__resend_failed_post", CAMPAIGN),
        "Failures": ("failures_campaigns__campaign_id__failures_get", CAMPAIGN),
        "Events": ("events_campaigns__campaign_id__events_get", CAMPAIGN),
    },
    ("/lists/{list_id}/segments", "post", "201"): {
        "ReadSegment": (f"read_{SAVED_ONE}_get", SAVED),
        "EditSegment": (f"edit_{SAVED_ONE}_patch", SAVED),
        "CountSegment": (f"start_count_{SAVED_ONE}_count_post", SAVED),
        "ReadCount": (f"read_count_{SAVED_ONE}_count_get", SAVED),
        "DeleteSegment": (f"delete_{SAVED_ONE}_delete", SAVED),
    },
    ("/notifications", "post", "202"): {
        "ReadNotification": ("read_campaigns__campaign_id__get", CAMPAIGN),
    },
    ("/lists/{list_id}/imports", "post", "202"): {
        "ReadImport": ("read_imports__import_id__get", IMPORT),
        "StartImport": ("start_imports__import_id__start_post", IMPORT),
        "Rejects": ("rejects_imports__import_id__rejects_get", IMPORT),
    },
    ("/lists/{list_id}/imports/uploads", "post", "201"): {
        "ReadUpload": ("read_imports__import_id__get", UPLOAD),
        "StartUpload": ("start_imports__import_id__start_post", UPLOAD),
    },
}

LIST_FILE = {
    "required": True,
    "description": "The list file, up to 4 MB: CSV with a header row, or JSON lines; UTF-8. "
    "Any bytes are a file: rows that cannot be read are reported as rejected.",
    "content": {media: {"schema": {}} for media in ("text/csv", "application/x-ndjson")},
}


def enrich(document: dict[str, Any]) -> dict[str, Any]:
    paths = document.get("paths", {})
    for operations in paths.values():  # a 204 has no body (powertools documents one anyway)
        for operation in operations.values():
            operation.get("responses", {}).get("204", {}).pop("content", None)
    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = {
                name: {"operationId": operation, "parameters": parameters}
                for name, (operation, parameters) in links.items()
            }
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(segment_schemas())  # what request models refer to (SEGMENT_SCHEMA)
    submit = paths.get("/lists/{list_id}/imports", {}).get("post")
    if submit is not None:
        submit["requestBody"] = LIST_FILE
    return document
