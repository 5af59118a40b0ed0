"""The one middleware every request passes, doing in one place and in a fixed order what
used to be four middlewares stacked by separate ``insert`` calls:

1. a request id, bound into the log context (api.core.request_context), so even a refusal
   carries one;
2. the content rules, 413 and 406 (api.core.negotiation);
3. authentication and the access policy (api.core.auth);
4. the handler;
5. any failure answered in the shape of the dialect the path speaks (api.core.errors), or, when
   part of a streamed answer already went out, the connection dropped instead;
6. the request id named in the answer's ``X-Request-ID`` header (a streamed answer names it
   itself before it starts: api.core.request_context.name_request);
7. a command (not a read) logged once, with its status; the log context undone.

One frame instead of four on every request matters on the polled routes (measured under polling
load), and so do the waits it does not take: admission awaits only when it must read the store, and
the header is set here rather than by an ``on_response_prepare`` signal (a coroutine more per
answer). Each step stays a plain function of its own module, tested there."""

from __future__ import annotations

import time

from aiohttp import web

from api.core.auth import admit
from api.core.errors import Handler, answer_started, break_off, error_answer
from api.core.negotiation import refuse_unacceptable
from api.core.request_context import begin, end, name_request


@web.middleware
async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    log_token = begin(request)
    started = time.perf_counter()
    response: web.StreamResponse | None = None
    status = 500
    try:
        try:
            refuse_unacceptable(request)
            waiting = admit(request)
            if waiting is not None:
                await waiting
            response = await handler(request)
        except Exception as error:
            if answer_started(request):
                response = break_off(request, error)
            else:
                response = error_answer(request, error)
        status = response.status
        name_request(request, response)
        return response
    except web.HTTPException as error:  # a redirect, raised again by error_answer
        status = error.status
        name_request(request, error)
        raise
    finally:
        end(request, response, status, time.perf_counter() - started, log_token)
