Feature: __NAME__ keeps notes
  Scenario: A note that is posted can be read back
    When I send a POST request to "${__ENV___HTTP_URL}/notes" with the body:
      """
      { "text": "hello from __ID__" }
      """
    Then the response status is 201
    When I send a GET request to "${__ENV___HTTP_URL}/notes"
    Then the response status is 200
    And the response body contains "hello from __ID__"

  Scenario: A note without text is refused
    When I send a POST request to "${__ENV___HTTP_URL}/notes" with the body:
      """
      { "title": "no text" }
      """
    Then the response status is 400
