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
ID = {"type": "integer", "format": "int64"}
BOOL = {"type": "boolean"}
CSRF = {"403": err("Cross-site request (`csrf_rejected`)")}
ROOM = obj({"room": ref("Room")})
MESSAGE = obj({"message": ref("Message")})
MESSAGES = obj({"messages": {"type": "array", "items": ref("Message")}})
EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢"]
ROOM_PARAM = {
    "name": "room", "in": "path", "required": True, "schema": S,
    "description": "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`",
}
MESSAGE_ID_PARAM = {
    "name": "id", "in": "path", "required": True, "schema": ID,
    "description": "A message id; one that does not exist or is in a conversation you cannot read is 404",
}
EMOJI_PARAM = {
    "name": "emoji", "in": "path", "required": True, "schema": S, "example": "👍",
    "description": "One of " + " ".join(EMOJI) + " (exact strings, URL-encoded: `%F0%9F%91%8D` for 👍; ❤️ is U+2764 U+FE0F); anything else is 422",
}

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
            "403": err("Cross-site request (`csrf_rejected`), or the account is suspended (`account_suspended`)"),
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
paths["/api/v1/rooms"] = {
    "get": {
        "summary": "Find conversations to join: `global` and public rooms whose name or topic contains `q`, most recent activity first",
        "tags": ["rooms"],
        "security": COOKIE,
        "parameters": [
            {"name": "q", "in": "query", "schema": S, "description": "Case-insensitive substring of the name or topic; absent or empty lists every room."},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
        ],
        "responses": {
            "200": resp("Rooms", obj({"rooms": {"type": "array", "items": ref("Room")}})),
            "422": err("`validation_failed`"),
            **UNAUTH,
        },
    },
    "post": {
        "summary": "Create a public room (the creator is its first member)",
        "tags": ["rooms"],
        "security": COOKIE,
        "requestBody": body(obj(
            {
                "name": {
                    "type": "string", "minLength": 2, "maxLength": 32, "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$",
                    "description": "Unique case-insensitively (`global` is taken); shown as typed, the room's id is its lower-cased form.",
                },
                "topic": {"type": "string", "maxLength": 200, "description": "No control characters; defaults to empty."},
            },
            ["name"],
        )),
        "description": "At most 30 rooms per account per hour (`rate_limited`).",
        "responses": {
            "201": resp("Created, and joined", ROOM),
            "409": err("`room_name_taken`"),
            **JSON_ERRORS,
            **UNAUTH,
            **RATE,
        },
    },
}
paths["/api/v1/rooms/{room}"] = {
    "get": {
        "summary": "One conversation (a public room's listing is visible without joining)",
        "tags": ["rooms"],
        "security": COOKIE,
        "parameters": [ROOM_PARAM],
        "responses": {
            "200": resp("The room", ROOM),
            "404": err("No such room, or a direct-message conversation you are not part of (`not_found`)"),
            **UNAUTH,
        },
    }
}
paths["/api/v1/rooms/{room}/membership"] = {
    "put": {
        "summary": "Join a public room (idempotent; `global` and your own direct-message conversations simply answer 200)",
        "tags": ["rooms"],
        "security": COOKIE,
        "parameters": [ROOM_PARAM],
        "responses": {
            "200": resp("The room, joined", ROOM),
            **CSRF,
            "404": err("No such room, or a direct-message conversation you are not part of (`not_found`)"),
            **UNAUTH,
        },
    },
    "delete": {
        "summary": "Leave a public room (its messages stay)",
        "tags": ["rooms"],
        "security": COOKIE,
        "parameters": [ROOM_PARAM],
        "responses": {
            "204": {"description": "Left"},
            "403": err("`global` and direct-message conversations cannot be left (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("No such room, or a direct-message conversation you are not part of (`not_found`)"),
            **UNAUTH,
        },
    },
}
paths["/api/v1/rooms/{room}/messages"] = {
    "get": {
        "summary": "A page of a conversation's history, oldest first (any conversation you can read)",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [
            ROOM_PARAM,
            {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 50}, "description": "Values above 100 are capped at 100."},
        ],
        "responses": {
            "200": resp("Messages", MESSAGES),
            "403": err("A public room you have not joined (`forbidden`)"),
            "404": err("No such room, or a direct-message conversation you are not part of (`not_found`)"),
            "422": err("`validation_failed`"),
            **UNAUTH,
        },
    }
}
paths["/api/v1/rooms/{room}/read"] = {
    "put": {
        "summary": "Move your read marker forward (it never moves back; your other sockets get `read`)",
        "tags": ["rooms"],
        "security": COOKIE,
        "parameters": [ROOM_PARAM],
        "requestBody": body(obj({"last_read_id": {**ID, "minimum": 0, "description": "The id of the last message read; a marker never moves back"}})),
        "responses": {
            "204": {"description": "Marked"},
            **JSON_ERRORS,
            "403": err("A public room you have not joined (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("No such room, or a direct-message conversation you are not part of (`not_found`)"),
            **UNAUTH,
        },
    }
}
paths["/api/v1/me/rooms"] = {
    "get": {
        "summary": "Your conversations with unread and mention counts: `global` first, then joined rooms and direct messages, most recent activity first",
        "tags": ["rooms"],
        "security": COOKIE,
        "responses": {
            "200": resp("Your rooms", obj({"rooms": {"type": "array", "items": ref("RoomWithUnread")}})),
            **UNAUTH,
        },
    }
}
paths["/api/v1/dms"] = {
    "post": {
        "summary": "Open the direct-message conversation with another user (created on first use; the same from both sides)",
        "tags": ["rooms"],
        "security": COOKIE,
        "requestBody": body(obj({"username": S})),
        "responses": {
            "200": resp("The conversation", ROOM),
            **JSON_ERRORS,
            "404": err("Unknown user (`not_found`)"),
            "422": err("Invalid fields, or yourself (`validation_failed`, with `fields`)"),
            **UNAUTH,
        },
    }
}
paths["/api/v1/messages/{id}"] = {
    "patch": {
        "summary": "Edit your message (same text rules as a new one; sets `edited_at`; broadcast as `message_updated`)",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [MESSAGE_ID_PARAM],
        "requestBody": body(obj({"text": {"type": "string", "description": "Trimmed, then 1–2000 characters without control characters other than newline and tab"}})),
        "responses": {
            "200": resp("The edited message", MESSAGE),
            **JSON_ERRORS,
            "403": err("Not your message (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("`not_found`"),
            "409": err("The message was deleted (`message_deleted`)"),
            **UNAUTH,
            **RATE,
        },
    },
    "delete": {
        "summary": "Delete a message (yours, or any as an admin): it stays in history as a placeholder",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [MESSAGE_ID_PARAM],
        "responses": {
            "200": resp("The placeholder (`deleted: true`, `text: \"\"`, `reactions: []`)", MESSAGE),
            "403": err("Not your message and you are not an admin (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("`not_found`"),
            **UNAUTH,
        },
    },
}
paths["/api/v1/messages/{id}/reactions/{emoji}"] = {
    "put": {
        "summary": "Add your reaction (adding it twice is not an error)",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [MESSAGE_ID_PARAM, EMOJI_PARAM],
        "responses": {
            "200": resp("The message", MESSAGE),
            "403": err("A public room you have not joined (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("`not_found`"),
            "409": err("The message was deleted (`message_deleted`)"),
            "422": err("Not one of the six emoji (`validation_failed`)"),
            **UNAUTH,
        },
    },
    "delete": {
        "summary": "Remove your reaction (removing one that is not there is not an error)",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [MESSAGE_ID_PARAM, EMOJI_PARAM],
        "responses": {
            "200": resp("The message", MESSAGE),
            "403": err("A public room you have not joined (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("`not_found`"),
            "422": err("Not one of the six emoji (`validation_failed`)"),
            **UNAUTH,
        },
    },
}
paths["/api/v1/search"] = {
    "get": {
        "summary": "Search the messages you can read now (not deleted), newest first",
        "tags": ["chat"],
        "security": COOKIE,
        "parameters": [
            {
                "name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1},
                "description": "Words, each of which must appear (case-insensitive; the last also matches as a prefix). Must hold at least one letter or digit (422 otherwise).",
            },
            {"name": "room", "in": "query", "schema": S, "description": "Narrow to one conversation id (403/404 as for its history)"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}},
        ],
        "responses": {
            "200": resp("Matching messages, newest first", MESSAGES),
            "403": err("`room` is a public room you have not joined (`forbidden`)"),
            "404": err("`room` does not exist, or is a direct-message conversation you are not part of (`not_found`)"),
            "422": err("`validation_failed`"),
            **UNAUTH,
        },
    }
}
USERNAME_PARAM = {"name": "username", "in": "path", "required": True, "schema": S}
paths["/api/v1/admin/users/{username}/suspension"] = {
    "put": {
        "summary": "Suspend another account (admins only): its sessions end and its sockets are disconnected everywhere",
        "tags": ["admin"],
        "security": COOKIE,
        "parameters": [USERNAME_PARAM],
        "responses": {
            "204": {"description": "Suspended"},
            "403": err("You are not an admin (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("Unknown user (`not_found`)"),
            "422": err("Yourself (`validation_failed`)"),
            **UNAUTH,
        },
    },
    "delete": {
        "summary": "Reinstate a suspended account (admins only)",
        "tags": ["admin"],
        "security": COOKIE,
        "parameters": [USERNAME_PARAM],
        "responses": {
            "204": {"description": "Reinstated"},
            "403": err("You are not an admin (`forbidden`); cross-site request (`csrf_rejected`)"),
            "404": err("Unknown user (`not_found`)"),
            **UNAUTH,
        },
    },
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

ROOM_PROPS = {
    "id": {"type": "string", "description": "`global`, the lower-cased name, or `dm:<smaller user id>:<larger user id>`"},
    "kind": {"type": "string", "enum": ["global", "public", "dm"]},
    "name": {"type": "string", "description": "As typed; for a direct-message conversation the other participant's username (`Deleted user` once deleted)"},
    "topic": {"type": "string", "description": "`\"\"` for direct-message conversations"},
    "member_count": {"type": "integer", "minimum": 0, "description": "For `global`, the number of accounts"},
    "last_activity_at": {**TIME, "nullable": True},
    "created_at": TIME,
    "joined": BOOL,
    "peer": {"allOf": [ref("Author")], "nullable": True, "description": "The other participant of a direct-message conversation (null once deleted); null for other rooms"},
}

schemas = {
    "Error": obj({
        "error": obj(
            {
                "code": {"type": "string", "enum": [
                    "invalid_json", "bad_request", "unauthenticated", "csrf_rejected", "forbidden",
                    "account_suspended", "not_found", "username_taken", "email_taken", "room_name_taken",
                    "message_deleted", "too_large", "unsupported_media_type", "validation_failed",
                    "rate_limited", "unavailable", "insufficient_storage", "internal",
                ]},
                "message": S,
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            ["code", "message"],
        )
    }),
    "User": obj({"id": INT, "username": S, "avatar_url": S, "created_at": TIME, "is_admin": BOOL}),
    "OwnUser": obj(
        {
            "id": INT, "username": S, "avatar_url": S, "created_at": TIME, "is_admin": BOOL,
            "email": {"type": "string", "nullable": True},
            "email_verified": {"type": "boolean"},
            "pending_email": {"type": "string", "nullable": True},
        },
        ["id", "username", "avatar_url", "created_at", "is_admin", "email", "email_verified"],
    ),
    "Author": obj({"id": INT, "username": S, "avatar_url": S}),
    "Message": obj({
        "id": INT,
        "room": S,
        "author": {"allOf": [ref("Author")], "nullable": True},
        "text": {"type": "string", "description": "`\"\"` once deleted"},
        "created_at": TIME,
        "edited_at": {**TIME, "nullable": True},
        "deleted": BOOL,
        "reactions": {"type": "array", "items": ref("Reaction"), "description": "`[]` once deleted"},
    }),
    "Reaction": obj({
        "emoji": {"type": "string", "enum": EMOJI},
        "count": {"type": "integer", "minimum": 1},
        "users": {"type": "array", "items": obj({"id": INT, "username": S})},
    }),
    "Room": obj(ROOM_PROPS),
    "RoomWithUnread": obj({
        **ROOM_PROPS,
        "unread": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Messages by others after your read marker, not deleted; 100 means 100 or more"},
        "mentions": {"type": "integer", "minimum": 0, "description": "Unread messages mentioning you"},
        "last_read_id": {**ID, "minimum": 0, "description": "The last message id you have read here (0: none yet)"},
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
        "Real-time chat is Socket.IO v5 on `/socket.io/` (see docs/realtime.md). "
        "Rooms, direct messages, edits, reactions, search, read markers and moderation: docs/rooms.md.",
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
