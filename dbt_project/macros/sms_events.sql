{#
    How a Twilio status callback or inbound reply is read, in one place for the
    loaded rows (stg_twilio__sms_events) and the refused ones read back
    (stg_twilio__refused_sms_events).
#}


{# The recipient's number: the sender of an inbound reply (status `received`), else the addressee. #}
{% macro sms_recipient(message_status, to_number, from_number) -%}
    case when {{ message_status }} = 'received' then {{ from_number }} else {{ to_number }} end
{%- endmacro %}


{#
    Whether an inbound reply says `opt_out_type` (STOP, or START): Twilio's
    Advanced Opt-Out says so, or its whole text (trimmed, any case) is one of
    the var `keywords` (sms_opt_out_keywords, sms_opt_in_keywords). Never null.
#}
{% macro sms_reply_is(message_status, opt_out_type_column, body, opt_out_type, keywords) -%}
    coalesce(
        {{ message_status }} = 'received' and (
            upper(trim({{ opt_out_type_column }})) = '{{ opt_out_type }}'
            or upper(trim({{ body }})) in ('{{ var(keywords) | join("', '") }}')
        ),
        false
    )
{%- endmacro %}


{% macro sms_is_opt_out(message_status, opt_out_type, body) -%}
    {{ reengage.sms_reply_is(message_status, opt_out_type, body, 'STOP', 'sms_opt_out_keywords') }}
{%- endmacro %}


{% macro sms_is_opt_in(message_status, opt_out_type, body) -%}
    {{ reengage.sms_reply_is(message_status, opt_out_type, body, 'START', 'sms_opt_in_keywords') }}
{%- endmacro %}


{# Whether a text failed with an error that makes the number unusable for good. Never null. #}
{% macro sms_is_permanent_failure(message_status, error_code) -%}
    coalesce(
        {{ message_status }} in ('undelivered', 'failed')
        and trim({{ error_code }}) in ('{{ var("sms_permanent_error_codes") | join("', '") }}'),
        false
    )
{%- endmacro %}


{#
    A number read back from a refused row: its text without the spaces, dots,
    hyphens and brackets people write numbers with, when that is E.164
    (reengage/phones.py), else null. Used only to suppress (reading a
    formatted number back can only text fewer people); a number without its
    country code is never completed.
#}
{% macro sms_read_back_number(text) -%}
    {%- set stripped = reengage.replace_every("trim(" ~ text ~ ")", "'[ .()\\-]'", "''") -%}
    case when {{ reengage.matches(stripped, "'^\+[1-9][0-9]{6,14}$'") }} then {{ stripped }} end
{%- endmacro %}


{#
    The suppression a suppressing SMS event names: stop_reply (an opt-out
    reply), unsubscribed_recipient (error 21610: Twilio refused to text a
    number that replied STOP) or permanent_failure (another permanent code).
#}
{% macro sms_suppression_reason(is_opt_out, error_code) -%}
    case
        when {{ is_opt_out }} then 'stop_reply'
        when trim({{ error_code }}) = '21610' then 'unsubscribed_recipient'
        else 'permanent_failure'
    end
{%- endmacro %}
