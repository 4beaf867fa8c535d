Feature: Web console: the OpenHIM console's work, on its own port, over the admin API

  Scenario: The console serves its app with a strict Content-Security-Policy
    Given I use no authentication
    When I send a GET request to "${CONSOLE_WEB_URL}/"
    Then the response status is 200
    And the response header "content-security-policy" matches "script-src 'self'"
    And the response header "content-security-policy" matches "frame-ancestors 'none'"
    And the response body contains "Instant OpenHIE console"

  Scenario: The admin API behind the console needs a console session
    Given I use no authentication
    When I send a GET request to "${CONSOLE_WEB_URL}/api/channels"
    Then the response status is 401

  Scenario: The root user logs in through the console and gets a CSRF token
    Given I use no authentication
    When I send a POST request to "${CONSOLE_WEB_URL}/console/session" with the body:
      """
      {"username": "${OPENHIM_ROOT_EMAIL}", "password": "${OPENHIM_ROOT_PASSWORD}"}
      """
    Then the response status is 200
    And the response JSON at "user.email" is "${OPENHIM_ROOT_EMAIL}"
    And the response JSON at "csrfToken" matches "^[A-Za-z0-9_-]{40,}$"
    And the response header "set-cookie" matches "HttpOnly"
