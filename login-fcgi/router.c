/* router.c -- the route table of login-fcgi. */
#include "router.h"

#include "handlers.h"
#include "util.h"

#include <string.h>

#define GP (METHOD_GET | METHOD_POST)

static const struct route routes[] = {
    {"/login", GP, "GET, POST", ENVELOPE_WAFER, handle_login},
    {"/user", GP, "GET, POST", ENVELOPE_WAFER, handle_user},
    {"/logout", METHOD_POST, "POST", ENVELOPE_WAFER, handle_logout},
    {"/upload", METHOD_POST, "POST", ENVELOPE_WAFER, handle_upload},
    {"/healthz", METHOD_GET | METHOD_HEAD, "GET, HEAD", ENVELOPE_WAFER, handle_health},
    {"/weapp/login", GP, "GET, POST", ENVELOPE_WAFER2, handle_login},
    {"/weapp/user", GP, "GET, POST", ENVELOPE_WAFER2, handle_user},
    {"/weapp/logout", METHOD_POST, "POST", ENVELOPE_WAFER2, handle_logout},
    {"/weapp/upload", METHOD_POST, "POST", ENVELOPE_WAFER2, handle_upload},
};

const struct route *router_find(const char *path)
{
    for (size_t i = 0; i < countof(routes); i++)
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    return NULL;
}

unsigned router_method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0)
        return METHOD_GET;
    if (strcmp(method, "POST") == 0)
        return METHOD_POST;
    if (strcmp(method, "HEAD") == 0)
        return METHOD_HEAD;
    return METHOD_OTHER;
}
