/* handlers.h -- the request handlers, one per endpoint family. Each answers
 * the request exactly once (request_reply/request_fail) on every path. */
#ifndef LOGIN_HANDLERS_H
#define LOGIN_HANDLERS_H

struct request;

/* GET|POST /login, /weapp/login (handle_login.c). */
void handle_login(struct request *r);

/* GET|POST /user, /weapp/user (handle_user.c). */
void handle_user(struct request *r);

/* POST /logout, /weapp/logout (handle_user.c). */
void handle_logout(struct request *r);

/* POST /upload, /weapp/upload (handle_upload.c). */
void handle_upload(struct request *r);

/* GET /healthz (handle_health.c). */
void handle_health(struct request *r);

#endif
