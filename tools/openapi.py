"""Writes src/web/openapi.json, the OpenAPI 3 description of chatroom's JSON
API. Run after changing a route: python3 tools/openapi.py"""
import json
import pathlib


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def err(desc):
    return {"description": desc, "content": {"application/json": {"schema": ref("Error")}}}


def body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def resp(desc, schema):
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def obj(props, required=None):
    return {
        "type": "object",
        "required": list(props) if required is None else required,
        "properties": props,
    }


S = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
COOKIE = [{"sessionCookie": []}]
JSON_ERRORS = {
    "400": err("Malformed JSON (`invalid_json`)"),
    "403": err("Cross-site request (`csrf_rejected`)"),
    "413": err("Body too large (`too_large`)"),
    "415": err("Body is not JSON (`unsupported_media_type`)"),
    "422": err("Invalid fields (`validation_failed`, with `fields`)"),
}
UNAUTH = {"401": err("Not signed in (`unauthenticated`)")}
RATE = {
    "429": {
        "description": "Too many requests (`rate_limited`)",
        "headers": {"Retry-After": {"schema": INT}},
        "content": {"application/json": {"schema": ref("Error")}},
    }
}
USER = obj({"user": ref("User")})
ME = obj({"user": ref("OwnUser")})
SET_COOKIE = {"Set-Cookie": {"schema": S, "description": "chatroom_session=…"}}

paths = {}
paths["/api/v1/auth/register"] = {
    "post": {
        "summary": "Create an account and sign in",
        "tags": ["auth"],
        "requestBody": body(obj({"username": S, "password": S, "email": {"type": "string", "nullable": True}}, ["username", "password"])),
        "responses": {
            "201": {**resp("Created and signed in", USER), "headers": SET_COOKIE},
            "409": err("`username_taken`"),
            **JSON_ERRORS,
            **RATE,
        },
    }
}
paths["/api/v1/auth/login"] = {
    "post": {
        "summary": "Sign in with a username or a verified email",
        "tags": ["auth"],
        "requestBody": body(obj({"username": S, "password": S})),
        "responses": {
            "200": {**resp("Signed in", USER), "headers": SET_COOKIE},
            "401": err("Wrong username or password (`unauthenticated`)"),
            **JSON_ERRORS,
            **RATE,
        },
    }
}
paths["/api/v1/auth/logout"] = {
    "post": {
        "summary": "End this session",
        "tags": ["auth"],
        "responses": {"204": {"description": "Signed out"}, "403": err("`csrf_rejected`")},
    }
}
paths["/api/v1/auth/forgot-password"] = {
    "post": {
        "summary": "Mail a reset link to a verified address (the same answer either way)",
        "tags": ["auth"],
        "requestBody": body(obj({"email": S})),
        "responses": {"202": {"description": "Accepted"}, **JSON_ERRORS, **RATE},
    }
}
paths["/api/v1/auth/reset-password"] = {
    "post": {
        "summary": "Set a new password with a mailed token (ends every session)",
        "tags": ["auth"],
        "requestBody": body(obj({"token": S, "new_password": S})),
        "responses": {"204": {"description": "Password changed"}, **JSON_ERRORS},
    }
}
paths["/api/v1/auth/verify-email"] = {
    "post": {
        "summary": "Confirm an address with a mailed token",
        "tags": ["auth"],
        "requestBody": body(obj({"token": S})),
        "responses": {"204": {"description": "Verified"}, "409": err("`email_taken`"), **JSON_ERRORS},
    }
}
paths["/api/v1/me"] = {
    "get": {
        "summary": "The signed-in user",
        "tags": ["me"],
        "security": COOKIE,
        "responses": {"200": resp("The user", ME), **UNAUTH},
    },
    "delete": {
        "summary": "Delete the account (messages stay, by a deleted user)",
        "tags": ["me"],
        "security": COOKIE,
        "requestBody": body(obj({"current_password": S})),
        "responses": {"204": {"description": "Deleted"}, **UNAUTH, **JSON_ERRORS, **RATE},
    },
}
paths["/api/v1/me/password"] = {
    "put": {
        "summary": "Change the password (ends the other sessions)",
        "tags": ["me"],
        "security": COOKIE,
        "requestBody": body(obj({"current_password": S, "new_password": S})),
        "responses": {"204": {"description": "Changed"}, **UNAUTH, **JSON_ERRORS, **RATE},
    }
}
paths["/api/v1/me/email"] = {
    "put": {
        "summary": "Ask to change the recovery address (a verification link is mailed)",
        "tags": ["me"],
        "security": COOKIE,
        "requestBody": body(obj({"email": S, "current_password": S})),
        "responses": {"202": {"description": "Verification mailed"}, "409": err("`email_taken`"), **UNAUTH, **JSON_ERRORS, **RATE},
    }
}
paths["/api/v1/me/avatar"] = {
    "put": {
        "summary": "Upload a photo: PNG, JPEG, WebP or GIF up to 5 MiB",
        "tags": ["me"],
        "security": COOKIE,
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": obj({"photo": {"type": "string", "format": "binary"}})}},
        },
        "responses": {
            "200": resp("The updated user", ME),
            "400": err("Malformed multipart body"),
            "403": err("`csrf_rejected`"),
            "413": err("`too_large`"),
            "415": err("`unsupported_media_type`"),
            "422": err("`validation_failed` (undecodable or too many pixels)"),
            "507": err("`insufficient_storage`"),
            **UNAUTH,
        },
    },
    "delete": {
        "summary": "Remove the photo (back to the generated one)",
        "tags": ["me"],
        "security": COOKIE,
        "responses": {"200": resp("The updated user", ME), "403": err("`csrf_rejected`"), **UNAUTH},
    },
}
paths["/api/v1/me/sessions"] = {
    "get": {
        "summary": "The user's sessions",
        "tags": ["me"],
        "security": COOKIE,
        "responses": {"200": resp("Sessions", obj({"sessions": {"type": "array", "items": ref("Session")}})), **UNAUTH},
    }
}
paths["/api/v1/me/sessions/{id}"] = {
    "delete": {
        "summary": "End one of the user's sessions",
        "tags": ["me"],
        "security": COOKIE,
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": S}],
        "responses": {"204": {"description": "Ended"}, "403": err("`csrf_rejected`"), "404": err("`not_found`"), **UNAUTH},
    }
}
paths["/api/v1/users/{username}"] = {
    "get": {
        "summary": "A user's public profile",
        "tags": ["users"],
        "parameters": [{"name": "username", "in": "path", "required": True, "schema": S}],
        "responses": {"200": resp("The user", USER), "404": err("`not_found`")},
    }
}
paths["/api/v1/rooms/{room}/messages"] = {
    "get": {
        "summary": "A page of a room's history, oldest first",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [
            {"name": "room", "in": "path", "required": True, "schema": S, "description": "`global`"},
            {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 50}, "description": "Values above 100 are capped at 100."},
        ],
        "responses": {
            "200": resp("Messages", obj({"messages": {"type": "array", "items": ref("Message")}})),
            "404": err("`not_found`"),
            "422": err("`validation_failed`"),
            **UNAUTH,
        },
    }
}
paths["/api/v1/openapi.json"] = {
    "get": {
        "summary": "This document",
        "tags": ["meta"],
        "responses": {"200": resp("OpenAPI 3 document", {"type": "object"})},
    }
}
paths["/healthz"] = {
    "get": {
        "summary": "Whether the database (and Redis, when configured) answer",
        "tags": ["meta"],
        "responses": {"200": resp("Healthy", ref("Health")), "503": resp("Unhealthy", ref("Health"))},
    }
}

schemas = {
    "Error": obj({
        "error": obj(
            {
                "code": {"type": "string", "enum": [
                    "invalid_json", "bad_request", "unauthenticated", "csrf_rejected", "not_found",
                    "username_taken", "email_taken", "too_large", "unsupported_media_type",
                    "validation_failed", "rate_limited", "unavailable", "insufficient_storage", "internal",
                ]},
                "message": S,
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            ["code", "message"],
        )
    }),
    "User": obj({"id": INT, "username": S, "avatar_url": S, "created_at": TIME}),
    "OwnUser": obj(
        {
            "id": INT, "username": S, "avatar_url": S, "created_at": TIME,
            "email": {"type": "string", "nullable": True},
            "email_verified": {"type": "boolean"},
            "pending_email": {"type": "string", "nullable": True},
        },
        ["id", "username", "avatar_url", "created_at", "email", "email_verified"],
    ),
    "Author": obj({"id": INT, "username": S, "avatar_url": S}),
    "Message": obj({
        "id": INT,
        "room": S,
        "author": {"allOf": [ref("Author")], "nullable": True},
        "text": S,
        "created_at": TIME,
    }),
    "Session": obj({"id": INT, "current": {"type": "boolean"}, "user_agent": S, "device": S, "created_at": TIME, "last_seen_at": TIME}),
    "Health": obj({"status": S, "database": S, "redis": S}, ["status", "database"]),
}

document = {
    "openapi": "3.0.3",
    "info": {
        "title": "chatroom API",
        "version": "1",
        "description": "JSON API of chatroom. Authentication is the `chatroom_session` cookie set by register and login. "
        "State-changing requests sent by browsers must come from the server's own origin. "
        "Real-time chat is Socket.IO v5 on `/socket.io/` (see docs/realtime.md).",
    },
    "paths": paths,
    "components": {
        "schemas": schemas,
        "securitySchemes": {"sessionCookie": {"type": "apiKey", "in": "cookie", "name": "chatroom_session"}},
    },
}

out = pathlib.Path(__file__).resolve().parent.parent / "src/web/openapi.json"
out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {out}")
