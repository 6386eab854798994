<?php
// Signs like a BillRun client and verifies like Billrun_Utils_Security::validateData:
// one JSON case per input line, one JSON answer per output line.
//   {"data": "<the data parameter>", "secret": "..."}
//     -> {"encoded": json_encode(json_decode(data)), "signed_string": ..., "sig": ...}
//        ("sign_error" instead of the last two where PHP cannot sign, e.g. ok_page is an array)
//   {"urlencode": <scalar>} -> {"urlencoded": urlencode(value)}
// A case PHP cannot handle answers {"error": "..."}.
while (($line = fgets(STDIN)) !== false) {
    $case = json_decode($line, true);
    try {
        if (array_key_exists('urlencode', $case)) {
            $answer = ['urlencoded' => urlencode($case['urlencode'])];
        } else {
            $data = json_decode($case['data'], true);
            if (!is_array($data)) {
                throw new Exception('json_decode: ' . json_last_error_msg());
            }
            $encoded = json_encode($data);
            if ($encoded === false) {
                throw new Exception('json_encode: ' . json_last_error_msg());
            }
            $answer = ['encoded' => $encoded];
            try {
                unset($data['_sig_']);
                foreach (['return_url', 'name', 'ok_page', 'fail_page'] as $field) {
                    if (isset($data[$field])) {
                        $data[$field] = urlencode($data[$field]);
                    }
                }
                $signed = json_encode($data);
                $answer['signed_string'] = $signed;
                $answer['sig'] = hash_hmac('sha512', $signed, $case['secret']);
            } catch (Throwable $err) {  // BillRun fails here too: urlencode() of an array
                $answer['sign_error'] = get_class($err) . ': ' . $err->getMessage();
            }
        }
    } catch (Throwable $err) {
        $answer = ['error' => get_class($err) . ': ' . $err->getMessage()];
    }
    echo json_encode($answer), "\n";
}
