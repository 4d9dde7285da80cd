/*
 * session.h — what other library files may know of a session: its model and thread pool.
 */
#ifndef AE_SESSION_H
#define AE_SESSION_H

#include "aesthete.h"
#include "nn/nn.h"

const ae_model *session_model(const ae_session *s);
nn_pool *session_pool(ae_session *s);

#endif
