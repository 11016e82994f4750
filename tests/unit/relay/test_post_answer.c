/* test_post_answer.c -- chat_post_batch_compact's short answer expanded
 * into one row per message (relay/post_answer.c): numbering per room in
 * batch order, names per sender, and answers that do not cover the batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "post_answer.h"

/* Rooms 7 and 3 interleaved, as the relay batches them; rows in the order
 * the database may send them (not sorted). */
static void test_numbers_each_room_in_batch_order(void **state)
{
    (void)state;
    const struct post_answer_msg msgs[] = {
        {7, 100, false}, {3, 200, true}, {7, 200, false}, {7, 100, false}, {3, 100, false},
    };
    struct post_answer_room rooms[] = {{7, 41}, {3, 9}};
    struct post_answer_sender senders[] = {{200, "Bob", "https://a/2"},
                                           {100, "Ann", "https://a/1"}};
    struct store_row rows[5];
    assert_int_equal(post_answer_expand(msgs, 5, rooms, 2, senders, 2, 1700000000123LL, rows), 0);
    const long long want_seq[] = {41, 9, 42, 43, 10};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rows[i].idx, i + 1);
        assert_int_equal(rows[i].seq, want_seq[i]);
        assert_int_equal(rows[i].user_id, msgs[i].user_id);
        assert_string_equal(rows[i].nickname, msgs[i].user_id == 100 ? "Ann" : "Bob");
        assert_string_equal(rows[i].avatar_url,
                            msgs[i].user_id == 100 ? "https://a/1" : "https://a/2");
        assert_int_equal(rows[i].image, msgs[i].image);
        assert_int_equal(rows[i].time_ms, 1700000000123LL);
        assert_false(rows[i].duplicate);
        assert_false(rows[i].invalid);
        assert_null(rows[i].room);
        assert_null(rows[i].content);
        assert_null(rows[i].cid);
    }
}

/* A sender without a row (or with NULL names) gets empty names, as a
 * message of a deleted user gets from the per-message answer. */
static void test_sender_without_row_has_no_name(void **state)
{
    (void)state;
    const struct post_answer_msg msgs[] = {{1, 5, false}, {1, 6, false}};
    struct post_answer_room rooms[] = {{1, 1}};
    struct post_answer_sender senders[] = {{6, NULL, NULL}};
    struct store_row rows[2];
    assert_int_equal(post_answer_expand(msgs, 2, rooms, 1, senders, 1, 0, rows), 0);
    assert_string_equal(rows[0].nickname, "");
    assert_string_equal(rows[0].avatar_url, "");
    assert_string_equal(rows[1].nickname, "");
    assert_int_equal(rows[1].seq, 2);
    struct post_answer_room again[] = {{1, 3}};
    assert_int_equal(post_answer_expand(msgs, 2, again, 1, NULL, 0, 0, rows), 0);
    assert_string_equal(rows[1].nickname, "");
    assert_int_equal(rows[1].seq, 4);
}

/* Answers that do not cover the batch are refused, not guessed at. */
static void test_refuses_missing_or_repeated_rooms(void **state)
{
    (void)state;
    const struct post_answer_msg msgs[] = {{1, 5, false}, {2, 5, false}};
    struct post_answer_sender senders[] = {{5, "Ann", ""}};
    struct store_row rows[2];
    struct post_answer_room only_one[] = {{1, 10}};
    assert_int_equal(post_answer_expand(msgs, 2, only_one, 1, senders, 1, 0, rows), -1);
    struct post_answer_room repeated[] = {{2, 4}, {1, 10}, {2, 4}};
    assert_int_equal(post_answer_expand(msgs, 2, repeated, 3, senders, 1, 0, rows), -1);
    assert_int_equal(post_answer_expand(msgs, 2, NULL, 0, senders, 1, 0, rows), -1);
}

/* A batch of 4,000 messages (the relay's largest) over 1,000 rooms. */
static void test_large_batch(void **state)
{
    (void)state;
    enum { N = 4000, R = 1000 };
    static struct post_answer_msg msgs[N];
    static struct post_answer_room rooms[R];
    static struct post_answer_sender senders[N];
    static struct store_row rows[N];
    for (int i = 0; i < N; i++)
        msgs[i] = (struct post_answer_msg){.room_id = 1000 + (i * 7) % R, .user_id = i};
    for (int r = 0; r < R; r++)
        rooms[r] = (struct post_answer_room){.room_id = 1000 + R - 1 - r, .next_seq = 1};
    for (int i = 0; i < N; i++)
        senders[i] = (struct post_answer_sender){N - 1 - i, "n", "a"};
    assert_int_equal(post_answer_expand(msgs, N, rooms, R, senders, N, 0, rows), 0);
    long long next[R];
    for (int r = 0; r < R; r++)
        next[r] = 1;
    for (int i = 0; i < N; i++)
        assert_int_equal(rows[i].seq, next[(i * 7) % R]++);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_each_room_in_batch_order),
        cmocka_unit_test(test_sender_without_row_has_no_name),
        cmocka_unit_test(test_refuses_missing_or_repeated_rooms),
        cmocka_unit_test(test_large_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
