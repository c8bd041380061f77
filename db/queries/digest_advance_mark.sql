-- digest_advance_mark: after the SMTP server accepted a digest, in the transaction that
-- locked the mark: every notification up to covered_seq has been in a digest.
UPDATE notification_digests
   SET covered_seq = greatest(covered_seq, %(covered_seq)s), last_sent_at = now()
 WHERE user_id = %(user_id)s
